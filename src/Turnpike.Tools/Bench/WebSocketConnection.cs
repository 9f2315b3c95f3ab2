using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;

namespace Turnpike.Tools.Bench;

/// <summary>
/// One WebSocket connection and its loop: send a binary message of <c>--message-size</c> bytes, wait for the whole
/// echo, record the round trip, repeat (closed model) or on the schedule (open model, <c>--rate</c>). Status code
/// 101 is counted once per successful handshake; each echoed message counts as one operation (with no status).
/// </summary>
internal sealed class WebSocketConnection : ITimedSlot
{
    private readonly int _slot;
    private readonly BenchOptions _options;
    private readonly BenchShard _shard;
    private readonly RunControl _control;
    private ClientWebSocket? _socket;
    private long _inFlightSince;
    private volatile bool _timedOut;

    public WebSocketConnection(int slot, BenchOptions options, BenchShard shard, RunControl control)
    {
        _slot = slot;
        _options = options;
        _shard = shard;
        _control = control;
    }

    public long InFlightSince => Volatile.Read(ref _inFlightSince);

    public void AbortForTimeout()
    {
        _timedOut = true;
        Volatile.Read(ref _socket)?.Abort();
    }

    public async Task RunAsync()
    {
        var payload = new byte[_options.MessageSize];
        Random.Shared.NextBytes(payload);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 4096));
        var url = _options.Urls[_slot % _options.Urls.Count];
        using var registration = _control.Token.UnsafeRegister(static s => Volatile.Read(ref ((WebSocketConnection)s!)._socket)?.Abort(), this);
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

                var error = await RoundTripAsync(url, payload, buffer, intended).ConfigureAwait(false);
                Volatile.Write(ref _inFlightSince, 0);
                if (error is { } kind && !_control.IsStopping)
                {
                    _shard.RecordError(kind);
                    if (!_control.IsOpenModel)
                    {
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
            var socket = Interlocked.Exchange(ref _socket, null);
            if (socket is not null)
            {
                await CloseQuietlyAsync(socket).ConfigureAwait(false);
            }

            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<BenchErrorKind?> RoundTripAsync(Uri url, byte[] payload, byte[] buffer, long intended)
    {
        var phase = BenchErrorKind.Connect;
        _timedOut = false;
        try
        {
            var socket = _socket;
            if (socket is null)
            {
                Volatile.Write(ref _inFlightSince, Stopwatch.GetTimestamp());
                socket = new ClientWebSocket();
                socket.Options.KeepAliveInterval = TimeSpan.Zero;
                foreach (var (name, value) in _options.Headers)
                {
                    socket.Options.SetRequestHeader(name, value);
                }

                Volatile.Write(ref _socket, socket);
                await socket.ConnectAsync(url, _control.Token).ConfigureAwait(false);
                _shard.CountConnect();
                _shard.CountStatus(101);
            }

            phase = BenchErrorKind.Reset;
            var sent = Stopwatch.GetTimestamp();
            Volatile.Write(ref _inFlightSince, sent);
            await socket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
            long received = 0;
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    DropSocket();
                    return BenchErrorKind.Reset;
                }

                received += result.Count;
                if (result.EndOfMessage)
                {
                    break;
                }
            }

            if (received != payload.Length)
            {
                DropSocket();
                return BenchErrorKind.Read; // not an echo of what was sent
            }

            _shard.RecordAnswer(0, _control.IsOpenModel ? Math.Min(intended, sent) : sent, sent, Stopwatch.GetTimestamp());
            _shard.AddBytes(received);
            return null;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or System.Net.Http.HttpRequestException)
        {
            DropSocket();
            if (_timedOut)
            {
                return phase == BenchErrorKind.Connect ? BenchErrorKind.Connect : BenchErrorKind.Timeout;
            }

            return ex is WebSocketException { WebSocketErrorCode: WebSocketError.HeaderError or WebSocketError.InvalidMessageType or WebSocketError.UnsupportedProtocol }
                ? BenchErrorKind.Read
                : phase;
        }
    }

    private void DropSocket() => Interlocked.Exchange(ref _socket, null)?.Dispose();

    private static async Task CloseQuietlyAsync(ClientWebSocket socket)
    {
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // closing is best effort
        }
        finally
        {
            socket.Dispose();
        }
    }
}
