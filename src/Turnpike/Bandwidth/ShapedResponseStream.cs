namespace Turnpike.Bandwidth;

/// <summary>
/// A response body that sends what it is given in pieces of at most <c>piece</c> bytes, each after its bucket
/// allows it: nothing is buffered beyond the caller's own buffer, and a cancelled wait gives its reservation back.
/// Flushes, trailers (a separate feature) and completion pass through untouched.
/// </summary>
internal sealed class ShapedResponseStream(Stream inner, TokenBucket bucket, int piece, TimeProvider time) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new InvalidOperationException("Synchronous writes are not supported on a bandwidth-shaped response; use WriteAsync.");

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length > piece)
        {
            return WritePiecesAsync(buffer, cancellationToken);
        }

        var wait = bucket.Reserve(buffer.Length);
        return wait <= TimeSpan.Zero
            ? inner.WriteAsync(buffer, cancellationToken) // within the burst: no wait, no state machine
            : WriteAfterAsync(buffer, wait, cancellationToken);
    }

    /// <summary>A single piece that is already reserved but must wait its turn.</summary>
    private async ValueTask WriteAfterAsync(ReadOnlyMemory<byte> buffer, TimeSpan wait, CancellationToken cancellationToken)
    {
        await WaitAsync(wait, buffer.Length, cancellationToken).ConfigureAwait(false);
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask WritePiecesAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var n = Math.Min(piece, buffer.Length);
            await WaitAsync(bucket.Reserve(n), n, cancellationToken).ConfigureAwait(false);
            await inner.WriteAsync(buffer[..n], cancellationToken).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    private async ValueTask WaitAsync(TimeSpan wait, int reserved, CancellationToken cancellationToken)
    {
        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            bucket.Refund(reserved);
            throw;
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
