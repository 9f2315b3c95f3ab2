using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;

namespace Turnpike.Observability;

/// <summary>
/// Kestrel connection middleware that counts the bytes a proxy listener receives and sends on the wire (before TLS,
/// so TLS records included). It wraps the connection's transport pipe in counting reader/writer adapters: one
/// allocation per connection, and per read or write one <see cref="Interlocked.Add(ref long, long)"/>. Installed only
/// when metrics are exported.
/// </summary>
internal sealed class ByteCountingMiddleware(ConnectionDelegate next, ListenerByteCounters counters)
{
    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var transport = connection.Transport;
        connection.Transport = new CountingDuplexPipe(transport, counters);
        return next(connection);
    }

    private sealed class CountingDuplexPipe(IDuplexPipe inner, ListenerByteCounters counters) : IDuplexPipe
    {
        public PipeReader Input { get; } = new CountingPipeReader(inner.Input, counters);

        public PipeWriter Output { get; } = new CountingPipeWriter(inner.Output, counters);
    }

    /// <summary>Counts what the application consumes (the part of the last buffer it advances past).</summary>
    private sealed class CountingPipeReader(PipeReader inner, ListenerByteCounters counters) : PipeReader
    {
        private ReadOnlySequence<byte> _buffer;

        public override bool TryRead(out ReadResult result)
        {
            if (inner.TryRead(out result))
            {
                _buffer = result.Buffer;
                return true;
            }

            return false;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var pending = inner.ReadAsync(cancellationToken);
            if (pending.IsCompletedSuccessfully)
            {
                var result = pending.Result;
                _buffer = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }

            return AwaitRead(pending);
        }

        /// <remarks>Pooled: a read that waits for the socket (every keep-alive request head) allocates nothing.</remarks>
        [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
        private async ValueTask<ReadResult> AwaitRead(ValueTask<ReadResult> pending)
        {
            var result = await pending.ConfigureAwait(false);
            _buffer = result.Buffer;
            return result;
        }

        public override void AdvanceTo(SequencePosition consumed)
        {
            Count(consumed);
            inner.AdvanceTo(consumed);
        }

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            Count(consumed);
            inner.AdvanceTo(consumed, examined);
        }

        private void Count(SequencePosition consumed)
        {
            if (_buffer.IsEmpty)
            {
                return;
            }

            var length = _buffer.Slice(_buffer.Start, consumed).Length;
            _buffer = default;
            if (length > 0)
            {
                counters.Received(length);
            }
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }

    /// <summary>Counts what the application writes (every <see cref="Advance"/>).</summary>
    private sealed class CountingPipeWriter(PipeWriter inner, ListenerByteCounters counters) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            counters.Sent(bytes);
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            counters.Sent(source.Length);
            return inner.WriteAsync(source, cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}

/// <summary>Bytes received and sent on one proxy listener (Interlocked), read by <see cref="ListenerMetrics"/>.</summary>
internal sealed class ListenerByteCounters(string listener)
{
    private long _received;
    private long _sent;

    public string Listener { get; } = listener;

    public long ReceivedBytes => Volatile.Read(ref _received);

    public long SentBytes => Volatile.Read(ref _sent);

    public void Received(long bytes) => Interlocked.Add(ref _received, bytes);

    public void Sent(long bytes) => Interlocked.Add(ref _sent, bytes);
}
