using System.Runtime.CompilerServices;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Turnpike.ConnectionLimits;
using Turnpike.Sockets;

namespace Turnpike.Http1.Server;

/// <summary>
/// One accepted socket of a raw listener, reused for every request on it: reads and parses request heads
/// (<see cref="Http1RequestParser"/>), exposes the request as features of one reused <see cref="DefaultHttpContext"/>,
/// runs the gateway's <see cref="RequestDelegate"/>, frames the response, drains what is left of the request body and
/// goes on with the next (possibly already buffered: pipelining) request. Runs on whatever thread completes the socket
/// operation (inline completions): nothing here blocks.
/// </summary>
internal sealed partial class RawConnection : IThreadPoolWorkItem
{
    private readonly RawListener _listener;
    private readonly RawListenerOptions _options;
    private readonly Socket _socket;
    private readonly EpollSocket? _epoll;
    private readonly RawSocketReader _input;
    private readonly RawSocketWriter _output;
    private readonly IpEntry? _ipEntry;
    private readonly Http1RequestParser _parser;
    private readonly ChunkedDecoder _chunked;
    private readonly DefaultHttpContext _context;
    private readonly string _connectionId;
    private int _requestCount;

    // Timeouts: the listener's heartbeat compares the deadline (TimeProvider timestamp; 0 = none) and cancels the read.
    private long _deadline;
    private volatile bool _timedOut;
    private volatile bool _closeRequested;
    private volatile bool _reading;
    private int _closed;

    /// <param name="socket">The accepted socket: read and written by this connection's own
    /// <see cref="RawSocketReader"/> and <see cref="RawSocketWriter"/> (pooled buffers held only while in use, wire
    /// bytes counted into <see cref="RawListenerOptions.Bytes"/> when metrics are exported).</param>
    /// <param name="epoll">The socket registered with the epoll engine (<see cref="SocketEngine"/>); null: .NET's socket engine.</param>
    public RawConnection(RawListener listener, Socket socket, EpollSocket? epoll, IpEntry? ipEntry, long id)
    {
        _listener = listener;
        _options = listener.Options;
        _socket = socket;
        _epoll = epoll;
        _ipEntry = ipEntry;
        _input = new RawSocketReader(socket, epoll, _options.Bytes, _options.InlineScheduling);
        _output = new RawSocketWriter(socket, epoll, _options.Bytes, _options.InlineScheduling);
        _parser = new Http1RequestParser(_options.Limits);
        _chunked = new ChunkedDecoder(_options.Limits with { MaxBodySize = long.MaxValue }, requestSide: true);
        _connectionId = FormatConnectionId(id);
        if (socket.RemoteEndPoint is IPEndPoint remote)
        {
            _remoteIp = remote.Address;
            _remotePort = remote.Port;
        }

        if (socket.LocalEndPoint is IPEndPoint local)
        {
            _localIp = local.Address;
            _localPort = local.Port;
        }

        _requestBody = new RequestBodyStream(this);
        _responseBody = new ResponseBodyStream(this);
        _context = new DefaultHttpContext(this);
    }

    public string ConnectionId => _connectionId;

    /// <summary>Pooled buffers this connection holds now.</summary>
    internal int HeldBufferBytes => _input.BufferedCapacity + _output.BufferedCapacity;

    void IThreadPoolWorkItem.Execute() => _ = RunAsync();

    /// <summary>Heartbeat (once a second for all connections): a read past its deadline is cancelled.</summary>
    public void OnHeartbeat(long now)
    {
        long deadline = Volatile.Read(ref _deadline);
        if (deadline != 0 && now > deadline && _reading)
        {
            _timedOut = true;
            _input.CancelPendingRead();
        }
    }

    /// <summary>Shutdown: an idle connection closes now, a busy one after its current response.</summary>
    public void RequestClose()
    {
        _closeRequested = true;
        if (_reading && !_headStarted)
        {
            _input.CancelPendingRead();
        }
    }

    /// <summary>Ends the connection at once (drain time over, write failure, IHttpRequestLifetimeFeature.Abort).</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        _keepAlive = false;
        CloseSocket();
        CancelRequest();
    }

    /// <summary>
    /// The connection's one long-running async method: reads and parses each head, runs the request through the app and
    /// finishes its response, all here (no async method per head or per request: two boxes, suspensions and
    /// resumptions per request fewer). Built with the pooled
    /// builder, so a resumption in the default execution context skips ExecutionContext.RunInternal (the box is never
    /// awaited: it is simply dropped when the connection ends).
    /// </summary>
    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask RunAsync()
    {
        // What a request's app leaves in the execution context (Activity.Current and other AsyncLocal values set
        // outside an async method of its own) must not reach the next request: each starts in the connection's context.
        var connectionContext = ExecutionContext.Capture();
        try
        {
            while (true)
            {
                if (connectionContext is not null && !ReferenceEquals(ExecutionContext.Capture(), connectionContext))
                {
                    ExecutionContext.Restore(connectionContext);
                }

                BeginHead();
                int step;
                do
                {
                    if (_closeRequested && !_headStarted)
                    {
                        return;
                    }

                    _reading = true;
                    ReadResult result;
                    try
                    {
                        result = await ReadInputAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        _reading = false;
                    }

                    step = OnHeadBytes(result);
                }
                while (step == HeadMore);

                if (step != HeadComplete)
                {
                    if (step != HeadClose)
                    {
                        await WriteErrorAndCloseAsync(step).ConfigureAwait(false);
                    }

                    return;
                }

                // The request (formerly ProcessRequestAsync, inlined: one box, suspension and resumption fewer).
                if (!BeginRequest())
                {
                    await WriteErrorAndCloseAsync(StatusCodes.Status400BadRequest).ConfigureAwait(false);
                    return;
                }

                var context = _context;
                _appRunning = true;
                StartDisconnectMonitor();
                try
                {
                    var pending = _options.ValueApplication is { } application ? application(context) : new ValueTask(_options.Application(context));
                    if (pending.IsCompletedSuccessfully)
                    {
                        pending.GetAwaiter().GetResult(); // a pooled box goes back
                    }
                    else
                    {
                        await pending.ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    await OnApplicationErrorAsync(ex).ConfigureAwait(false);
                }

                _appRunning = false;

                if (_responseWriter is { } writer)
                {
                    try
                    {
                        await writer.CompleteAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
                    {
                        _keepAlive = false;
                    }
                }

                if (Volatile.Read(ref _closed) == 0)
                {
                    try
                    {
                        await CompleteResponseAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not (IOException or SocketException or ObjectDisposedException or OperationCanceledException))
                    {
                        // An OnStarting callback or the head failed before anything was sent: 500 as Kestrel.
                        await OnApplicationErrorAsync(ex).ConfigureAwait(false);
                        if (Volatile.Read(ref _closed) == 0)
                        {
                            await CompleteResponseAsync().ConfigureAwait(false);
                        }
                    }
                }

                await RunOnCompletedAsync().ConfigureAwait(false);
                ReturnHeaders();
                if (_upgraded || !_keepAlive || _clientClosed || Volatile.Read(ref _closed) == 1 || _listener.IsStopping)
                {
                    return;
                }

                if (!await DrainRequestBodyAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the connection was aborted.
        }
        catch (Exception ex)
        {
            LogConnectionError(_options.Logger, _options.Name, _connectionId, ex);
        }
        finally
        {
            Close();
        }
    }

    // OnHeadBytes results besides a status code to answer before closing.
    private const int HeadMore = -1;
    private const int HeadClose = 0;
    private const int HeadComplete = 1;

    /// <summary>
    /// The request's header dictionaries, from the thread's <see cref="HeaderDictionaryPool"/> when the first byte of its
    /// head arrives (an idle keep-alive connection holds none; the stack's top is the pair the last request warmed).
    /// </summary>
    private void RentHeaders()
    {
        if (_requestHeaders is null) // rented as a pair: the request's dictionary stands for both
        {
            _requestHeaders = HeaderDictionaryPool.Rent();
            _responseHeaders = HeaderDictionaryPool.Rent();
        }
    }

    /// <summary>After the request (its OnCompleted callbacks included) or with the connection: the pair goes back, cleared.</summary>
    private void ReturnHeaders()
    {
        if (_requestHeaders is not null)
        {
            HeaderDictionaryPool.Return(_requestHeaders);
            HeaderDictionaryPool.Return(_responseHeaders);
            _requestHeaders = null!;
            _responseHeaders = null!;
            _deferredCount = 0;
        }
    }

    /// <summary>Before the next request head.</summary>
    private void BeginHead()
    {
        _parser.Reset();
        _headStarted = false;
        _timedOut = false;
        BeginRequestHead();
        // As Kestrel: the keep-alive timeout while nothing has arrived (first request included), then the request
        // headers timeout from the first byte of the head.
        SetDeadline(_listener.KeepAliveTicks);
    }

    /// <summary>
    /// Parses what a read of the head brought. <see cref="HeadComplete"/>: a request to run; <see cref="HeadMore"/>:
    /// read again; <see cref="HeadClose"/>: close (timeout, shutdown, client gone); else the status code to answer
    /// before closing (a malformed head, a partial head and then FIN or timeout).
    /// </summary>
    private int OnHeadBytes(in ReadResult result)
    {
        var buffer = result.Buffer;
        if (!buffer.IsEmpty && !_headStarted)
        {
            _headStarted = true;
            RentHeaders();
            SetDeadline(_listener.RequestHeadersTicks);
        }

        var handler = new HeadHandler(this);
        var parsed = _parser.Parse(ref handler, buffer, out var consumed, out var examined);
        _input.AdvanceTo(consumed, examined);
        if (parsed.Status == Http1ParseStatus.Complete)
        {
            Volatile.Write(ref _deadline, 0);
            return HeadComplete;
        }

        if (parsed.Status == Http1ParseStatus.Error)
        {
            LogBadRequest(_options.Logger, _options.Name, _connectionId, parsed.StatusCode, Http1ErrorText.Describe(parsed.Error));
            return parsed.StatusCode;
        }

        if (result.IsCanceled)
        {
            if (_timedOut && _headStarted)
            {
                return StatusCodes.Status408RequestTimeout;
            }

            return _timedOut || (_closeRequested && !_headStarted) ? HeadClose : HeadMore;
        }

        if (result.IsCompleted)
        {
            // A partial head and then FIN: answer as Kestrel does (the client may still read it).
            return _headStarted ? StatusCodes.Status400BadRequest : HeadClose;
        }

        return HeadMore;
    }

    /// <summary>
    /// As Kestrel's timeout control: the deadline counts from the heartbeat's last tick plus one heartbeat interval
    /// (no clock read per request), so a timeout fires between the timeout and two heartbeats after it.
    /// </summary>
    /// <param name="timeoutTicks">The timeout in timestamp ticks, converted once by the listener; 0: none.</param>
    private void SetDeadline(long timeoutTicks) =>
        Volatile.Write(ref _deadline, timeoutTicks == 0 ? 0 : _listener.CoarseNow + _listener.HeartbeatTicks + timeoutTicks);

    /// <summary>The short answer to a request that cannot be served (parse error, timeout): status, no body, close.</summary>
    private async ValueTask WriteErrorAndCloseAsync(int status)
    {
        if (Volatile.Read(ref _closed) == 1)
        {
            return;
        }

        WriteBytes(ResponseHeadBytes.StatusLine(status) ?? ResponseHeadBytes.StatusLine(400)!);
        WriteBytes("Content-Length: 0\r\nConnection: close\r\n"u8);
        WriteBytes(ResponseHeadBytes.DateLine);
        WriteBytes("\r\n"u8);
        try
        {
            await _output.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    private void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        var span = _output.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        _output.Advance(bytes.Length);
    }

    private void Close()
    {
        if (_monitoring)
        {
            // The watching receive may still be in flight: it ends with the socket below, unreported.
            _monitoring = false;
            _input.StopWatching();
        }

        // Every flush sent everything: shut the socket down (FIN after the last response) and close it; an aborted
        // connection is already closed. A receive still in flight ends now, and its buffer goes back after it.
        CloseSocket();
        _input.Dispose();
        _output.Dispose();
        Interlocked.Exchange(ref _closed, 1);
        CancelRequest();
        _parser.Dispose();
        _chunked.Dispose();
        ReturnHeaders();
        _abortSource?.Dispose();
        _options.ConnectionLimiter?.Release(_ipEntry);
        _listener.OnConnectionClosed(this);
    }

    /// <summary>As Kestrel's socket transport at the end: shut both directions down, then close.</summary>
    private void CloseSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();

        // Off the epoll engine (after the close: a call made meanwhile finds the handle closed); pending operations end as aborted.
        _epoll?.Close();
    }

    private static string FormatConnectionId(long id)
    {
        // As Kestrel: 13 characters of base-32.
        const string Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
        return string.Create(13, id, static (span, value) =>
        {
            for (int i = 12; i >= 0; i--)
            {
                span[i] = Chars[(int)(value & 31)];
                value >>= 5;
            }
        });
    }

    [LoggerMessage(120, LogLevel.Debug, "Listener {Listener} connection {ConnectionId}: bad request ({Status}, {Reason})")]
    private static partial void LogBadRequest(ILogger logger, string listener, string connectionId, int status, string reason);

    [LoggerMessage(121, LogLevel.Error, "Listener {Listener} connection {ConnectionId}: unexpected error")]
    private static partial void LogConnectionError(ILogger logger, string listener, string connectionId, Exception exception);

    [LoggerMessage(126, LogLevel.Debug, "Listener {Listener} connection {ConnectionId}: request {TraceIdentifier} aborted by the client")]
    private static partial void LogRequestAborted(ILogger logger, string listener, string connectionId, string traceIdentifier);

    [LoggerMessage(122, LogLevel.Error, "Listener {Listener} connection {ConnectionId}: unhandled exception while processing request {TraceIdentifier}")]
    private static partial void LogApplicationError(ILogger logger, string listener, string connectionId, string traceIdentifier, Exception exception);
}
