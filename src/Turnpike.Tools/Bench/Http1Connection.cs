using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Turnpike.Tools.Bench;

/// <summary>
/// One keep-alive HTTP/1.1 connection and its loop: send a pre-serialised request, read the answer with
/// <see cref="Http1ResponseParser"/> into a pooled buffer, record, repeat. No allocation per request. A broken or
/// timed-out connection is counted by kind and opened again for the next request.
/// </summary>
internal sealed class Http1Connection : ITimedSlot
{
    private const int BufferSize = 64 * 1024;

    private readonly int _slot;
    private readonly EndPoint _endPoint;
    private readonly Http1RequestTemplate[] _requests;
    private readonly BenchShard _shard;
    private readonly RunControl _control;
    private Socket? _socket;
    private long _inFlightSince;
    private volatile bool _timedOut;

    public Http1Connection(int slot, EndPoint endPoint, Http1RequestTemplate[] requests, BenchShard shard, RunControl control)
    {
        _slot = slot;
        _endPoint = endPoint;
        _requests = requests;
        _shard = shard;
        _control = control;
    }

    public long InFlightSince => Volatile.Read(ref _inFlightSince);

    public void AbortForTimeout()
    {
        _timedOut = true;
        Volatile.Read(ref _socket)?.Dispose();
    }

    private void Abort() => Volatile.Read(ref _socket)?.Dispose();

    public async Task RunAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        using var registration = _control.Token.UnsafeRegister(static s => ((Http1Connection)s!).Abort(), this);
        var parser = default(Http1ResponseParser);
        var next = _slot % _requests.Length;
        long sequence = 0;
        try
        {
            while (_control.TryTake())
            {
                long intended;
                try
                {
                    intended = await _control.WaitTurnAsync(_slot, sequence++).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var request = _requests[next];
                next = next + 1 == _requests.Length ? 0 : next + 1;
                var kind = await SendOneAsync(request, buffer, intended, parser).ConfigureAwait(false);
                Volatile.Write(ref _inFlightSince, 0);
                if (kind is { } error && !_control.IsStopping)
                {
                    _shard.RecordError(error);
                    if (!_control.IsOpenModel)
                    {
                        // A refused connect or a rejected answer fails in microseconds: 10 ms before the next try, so a
                        // broken target is not hammered with new connections (the open model keeps its schedule).
                        try
                        {
                            await Task.Delay(10, _control.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }
                }
            }
        }
        finally
        {
            CloseSocket();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>One request and its answer; null on success, else the kind of failure (the connection is closed).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<BenchErrorKind?> SendOneAsync(Http1RequestTemplate request, byte[] buffer, long intended, Http1ResponseParser parser)
    {
        var phase = BenchErrorKind.Connect;
        _timedOut = false;
        try
        {
            var socket = _socket;
            if (socket is null)
            {
                Volatile.Write(ref _inFlightSince, Stopwatch.GetTimestamp());
                socket = new Socket(_endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                Volatile.Write(ref _socket, socket);
                if (_control.IsStopping)
                {
                    return null;
                }

                await socket.ConnectAsync(_endPoint).ConfigureAwait(false);
                _shard.CountConnect();
            }

            phase = BenchErrorKind.Reset;
            var sent = Stopwatch.GetTimestamp();
            Volatile.Write(ref _inFlightSince, sent);
            var bytes = request.Bytes.AsMemory();
            while (!bytes.IsEmpty)
            {
                var n = await socket.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
                bytes = bytes[n..];
            }

            parser.Reset(request.IsHead);
            int start = 0, end = 0;
            long received = 0;
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start == 0)
                    {
                        CloseSocket();
                        return BenchErrorKind.Read; // a header block larger than the buffer
                    }

                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }

                var read = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    CloseSocket();
                    if (parser.ReadsUntilClose)
                    {
                        Record(parser.StatusCode, intended, sent, received);
                        return null;
                    }

                    return BenchErrorKind.Reset;
                }

                received += read;
                end += read;
                var status = parser.Parse(buffer.AsSpan(start, end - start), out var consumed);
                start += consumed;
                if (start == end)
                {
                    start = end = 0;
                }

                if (status == ParseStatus.Complete)
                {
                    Record(parser.StatusCode, intended, sent, received);
                    if (parser.CloseAfter || start != end)
                    {
                        CloseSocket(); // closing, or bytes after the answer this client never asked for
                    }

                    return null;
                }

                if (status == ParseStatus.Malformed)
                {
                    CloseSocket();
                    return BenchErrorKind.Read;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            CloseSocket();
            if (_timedOut)
            {
                _timedOut = false;
                return phase == BenchErrorKind.Connect ? BenchErrorKind.Connect : BenchErrorKind.Timeout;
            }

            return phase;
        }
    }

    private void Record(int status, long intended, long sent, long received)
    {
        var end = Stopwatch.GetTimestamp();
        _shard.RecordAnswer(status, _control.IsOpenModel ? Math.Min(intended, sent) : sent, sent, end);
        _shard.AddBytes(received);
    }

    private void CloseSocket()
    {
        var socket = Interlocked.Exchange(ref _socket, null);
        socket?.Dispose();
    }
}
