using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turnpike.Observability;
using Turnpike.ConnectionLimits;
using Turnpike.Sockets;

namespace Turnpike.Http1.Server;

/// <summary>
/// A raw-socket HTTP/1.1 listener (<c>listeners.*.engine: raw</c>): one accept loop on a listening socket, the
/// connection limits applied at accept, one <see cref="RawConnection"/> per accepted socket, and one heartbeat
/// timer for all of them (Date header, request-headers and keep-alive timeouts).
/// </summary>
internal sealed partial class RawListener : IAsyncDisposable
{
    private static long _nextConnectionId = DateTime.UtcNow.Ticks;

    private readonly Socket _socket;
    private readonly ConcurrentDictionary<RawConnection, byte> _connections = new();
    private readonly ITimer _heartbeat;
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _acceptLoop = Task.CompletedTask;
    private volatile bool _stopping;
    private long _coarseNow;

    private RawListener(RawListenerOptions options, Socket socket)
    {
        Options = options;
        _socket = socket;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        HeartbeatTicks = options.Time.TimestampFrequency; // one second
        KeepAliveTicks = DeadlineTicks(options.KeepAliveTimeout, options.Time);
        RequestHeadersTicks = DeadlineTicks(options.RequestHeadersTimeout, options.Time);
        _coarseNow = options.Time.GetTimestamp();
        _heartbeat = options.Time.CreateTimer(static state => ((RawListener)state!).OnHeartbeat(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public RawListenerOptions Options { get; }

    /// <summary>The bound address (port 0 resolved).</summary>
    public IPEndPoint LocalEndPoint { get; }

    public bool IsStopping => _stopping;

    /// <summary>The time of the last heartbeat (a <see cref="TimeProvider"/> timestamp): the base of connection deadlines.</summary>
    internal long CoarseNow => Volatile.Read(ref _coarseNow);

    /// <summary>The heartbeat interval in timestamp ticks.</summary>
    internal long HeartbeatTicks { get; }

    /// <summary><see cref="RawListenerOptions.KeepAliveTimeout"/> in timestamp ticks; 0: none.</summary>
    internal long KeepAliveTicks { get; }

    /// <summary><see cref="RawListenerOptions.RequestHeadersTimeout"/> in timestamp ticks; 0: none.</summary>
    internal long RequestHeadersTicks { get; }

    private static long DeadlineTicks(TimeSpan timeout, TimeProvider time) =>
        timeout <= TimeSpan.Zero ? 0 : (long)(timeout.TotalSeconds * time.TimestampFrequency);

    public int ConnectionCount => _connections.Count;

    /// <summary>Receive and send buffers the open connections hold right now (idle keep-alive connections hold none).</summary>
    internal long HeldBufferBytes
    {
        get
        {
            long total = 0;
            foreach (var pair in _connections)
            {
                total += pair.Key.HeldBufferBytes;
            }

            return total;
        }
    }

    /// <summary>Binds <paramref name="endpoint"/> and starts accepting.</summary>
    public static RawListener Start(IPEndPoint endpoint, RawListenerOptions options)
    {
        SocketEngine.Validate();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var listener = new RawListener(options, socket);
        listener._acceptLoop = listener.AcceptLoopAsync();
        LogStarted(options.Logger, options.Name, listener.LocalEndPoint, SocketEngine.Name);
        return listener;
    }

    private async Task AcceptLoopAsync()
    {
        var limiter = Options.ConnectionLimiter;
        while (!_stopping)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (_stopping)
            {
                return;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(Options.Logger, Options.Name, ex.SocketErrorCode);
                continue;
            }

            IpEntry? entry = null;
            if (limiter is not null)
            {
                var verdict = limiter.TryAccept(accepted.RemoteEndPoint, out entry);
                if (verdict != ConnectionVerdict.Accepted)
                {
                    LogRejected(Options.Logger, Options.Name, accepted.RemoteEndPoint, verdict);
                    accepted.Dispose();
                    continue;
                }
            }

            accepted.NoDelay = true;
            EpollSocket? epoll = null;
            if (SocketEngine.UseEpoll)
            {
                try
                {
                    epoll = SocketEngine.Register(accepted);
                }
                catch (SocketException ex)
                {
                    LogAcceptFailed(Options.Logger, Options.Name, ex.SocketErrorCode);
                    limiter?.Release(entry);
                    accepted.Dispose();
                    continue;
                }
            }

            var connection = new RawConnection(this, accepted, epoll, entry, Interlocked.Increment(ref _nextConnectionId));
            _connections.TryAdd(connection, 0);
            if (_stopping)
            {
                connection.RequestClose();
            }

            // The accept loop goes on at once; the connection runs on the thread pool, then on socket completions.
            ThreadPool.UnsafeQueueUserWorkItem(connection, preferLocal: false);
        }
    }

    internal void OnConnectionClosed(RawConnection connection)
    {
        _connections.TryRemove(connection, out _);
        if (_stopping && _connections.IsEmpty)
        {
            _allClosed.TrySetResult();
        }
    }

    private void OnHeartbeat()
    {
        ResponseHeadBytes.UpdateDate(Options.Time.GetUtcNow());
        long now = Options.Time.GetTimestamp();
        Volatile.Write(ref _coarseNow, now);
        foreach (var pair in _connections)
        {
            pair.Key.OnHeartbeat(now);
        }
    }

    /// <summary>
    /// Graceful stop: no new connections, idle keep-alive connections closed now, busy ones after their current
    /// response; when <paramref name="cancellationToken"/> fires (the drain time is over) the rest are aborted.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        foreach (var pair in _connections)
        {
            pair.Key.RequestClose();
        }

        if (_connections.IsEmpty)
        {
            _allClosed.TrySetResult();
        }

        try
        {
            await _allClosed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var pair in _connections)
            {
                pair.Key.Abort();
            }

            try
            {
                await _allClosed.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.Zero);
        await StopAsync(cts.Token).ConfigureAwait(false);

        await _heartbeat.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(123, LogLevel.Information, "Raw HTTP/1.1 listener {Name} accepting on {EndPoint} (socket engine: {SocketEngine})")]
    private static partial void LogStarted(ILogger logger, string name, IPEndPoint endPoint, string socketEngine);

    [LoggerMessage(124, LogLevel.Warning, "Raw listener {Name}: accept failed ({Error})")]
    private static partial void LogAcceptFailed(ILogger logger, string name, SocketError error);

    [LoggerMessage(125, LogLevel.Debug, "Raw listener {Name}: connection from {Remote} refused ({Reason})")]
    private static partial void LogRejected(ILogger logger, string name, EndPoint? remote, ConnectionVerdict reason);
}
