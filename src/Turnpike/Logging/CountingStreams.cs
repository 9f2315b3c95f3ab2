namespace Turnpike.Logging;

/// <summary>
/// Pass-through request and response body streams that count bytes, used only for sampled access-log lines. A pair is
/// kept with its context's reused request feature and re-pointed at the next sampled request's bodies
/// (<see cref="Wrap"/>), so a sampled request on a kept-alive connection allocates no new pair.
/// </summary>
internal sealed class CountingStreams(Stream request, Stream response)
{
    public CountingStream Request { get; } = new(request);

    public CountingStream Response { get; } = new(response);

    /// <summary>Starts counting again from zero over <paramref name="request"/> and <paramref name="response"/>.</summary>
    public void Wrap(Stream request, Stream response)
    {
        Request.Wrap(request);
        Response.Wrap(response);
    }
}

internal sealed class CountingStream(Stream stream) : Stream
{
    private Stream _inner = stream;
    private long _count;

    public void Wrap(Stream stream)
    {
        _inner = stream;
        Interlocked.Exchange(ref _count, 0);
    }

    public long Count => Interlocked.Read(ref _count);

    public override bool CanRead => _inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => _inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => Add(_inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Add(await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _inner.Write(buffer, offset, count);
        Add(count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Add(buffer.Length);
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private int Add(int n)
    {
        Interlocked.Add(ref _count, n);
        return n;
    }
}
