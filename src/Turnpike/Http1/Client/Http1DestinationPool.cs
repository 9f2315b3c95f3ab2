namespace Turnpike.Http1.Client;

/// <summary>
/// Keep-alive connections to one destination, lock-free: idle connections sit in an array of slots taken and filled
/// with <see cref="Interlocked"/>. Rent takes the last returned connection first, then the lowest slot (returns fill
/// the lowest free one), so spare connections drift to the end and expire. On the epoll engine a request rents on its
/// client connection's engine thread (<see cref="Sockets.IEpollThreadAffinity"/>): the connection last returned on that
/// thread comes first, and a new connection opens on it; otherwise any idle connection serves, as above. With <c>maxConnectionsPerDestination</c>
/// set, a <see cref="SemaphoreSlim"/> bounds the connections in use; unlimited clusters (the default) take no permit.
/// </summary>
internal sealed class Http1DestinationPool
{
    private const int DefaultSlots = 1024;

    /// <summary>A connection idle for longer than this is checked for a close by the upstream before it is reused.</summary>
    private static readonly TimeSpan StaleCheckAfter = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A connection idle for at least this long gives its buffers back at the next sweep. Not at every return: with
    /// hundreds of exchanges in flight, renting per exchange outran <see cref="System.Buffers.ArrayPool{T}.Shared"/>'s
    /// per-core cache and doubled the bytes allocated per request (bench/results/NOTES-20261130-memory.md).
    /// </summary>
    internal static readonly TimeSpan ReleaseBuffersAfter = TimeSpan.FromSeconds(1);

    private readonly Http1UpstreamConnection?[] _idle;
    private readonly SemaphoreSlim? _permits;
    private int _open;
    private int _idleCount;
    private int _lastReturned; // the slot of the last Return, which Rent tries first (a stale hint only costs the scan)
    private readonly int[]? _lastReturnedOn; // per epoll engine thread: the slot of the last Return of a connection on it

    public Http1DestinationPool(Http1ConnectionPool cluster, string address)
    {
        Cluster = cluster;
        Address = address;
        var uri = new Uri(address);
        Host = uri.IdnHost;
        Port = uri.Port;
        // As SocketsHttpHandler writes it: the IDN host (IPv6 in brackets) and the port unless it is the scheme's default.
        var authority = uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost}]" : uri.IdnHost;
        HostHeader = System.Text.Encoding.ASCII.GetBytes(uri.IsDefaultPort ? authority : $"{authority}:{uri.Port}");
        var max = cluster.Http.MaxConnectionsPerDestination;
        _idle = new Http1UpstreamConnection?[Math.Min(max, DefaultSlots)];
        _permits = max == int.MaxValue ? null : new SemaphoreSlim(max, max);
        _staleCheckTicks = Http1ConnectionPool.ToTimestampTicks(StaleCheckAfter, cluster.Time);
        _lastReturnedOn = Sockets.SocketEngine.UseEpoll && Sockets.SocketEngine.ThreadCount > 1 ? new int[Sockets.SocketEngine.ThreadCount] : null;
    }

    public Http1ConnectionPool Cluster { get; }

    /// <summary>The strings of this destination's response header fields, shared by its connections.</summary>
    public ResponseHeaderStrings HeaderStrings { get; } = new();

    public string Address { get; }

    public string Host { get; }

    public int Port { get; }

    /// <summary>The Host header value for this destination, ASCII.</summary>
    public byte[] HostHeader { get; }

    public int OpenConnections => Volatile.Read(ref _open);

    public int IdleConnections => Volatile.Read(ref _idleCount);

    /// <summary>Buffer bytes held by the idle connections now (diagnostics and tests; idle connections release theirs).</summary>
    public long IdleBufferBytes
    {
        get
        {
            long total = 0;
            var slots = _idle;
            for (var i = 0; i < slots.Length; i++)
            {
                if (Volatile.Read(ref slots[i]) is { } connection)
                {
                    total += connection.BufferBytes;
                }
            }

            return total;
        }
    }

    /// <summary>Null when unlimited; otherwise wait on it before <see cref="Rent"/> and release after <see cref="Return"/>.</summary>
    public SemaphoreSlim? Permits => _permits;

    /// <summary>An idle connection that may be reused, or null (the caller then opens a new one).</summary>
    public Http1UpstreamConnection? Rent() => Rent(Cluster.Time.GetTimestamp());

    /// <summary>As <see cref="Rent()"/>, at <paramref name="now"/> (the caller's timestamp, which also starts the exchange's activity timeout).</summary>
    /// <param name="thread">The client connection's epoll engine thread: a connection registered with it is taken first.</param>
    public Http1UpstreamConnection? Rent(long now, Sockets.EpollThread? thread = null)
    {
        if (Volatile.Read(ref _idleCount) == 0)
        {
            return null;
        }

        var slots = _idle;
        if (thread is not null && _lastReturnedOn is { } hints)
        {
            // The connection last returned on this thread, when it is still idle in its slot (should a racing Return have
            // put another thread's there meanwhile, that one serves: as any below).
            var own = Volatile.Read(ref hints[thread.Index]);
            if (Volatile.Read(ref slots[own]) is { } candidate && candidate.EngineThread == thread && Take(slots, own, now) is { } mine)
            {
                return mine;
            }
        }

        // The slot of the last return first: the connection just used (its objects still in cache), and no scan.
        var hint = Volatile.Read(ref _lastReturned);
        if (Take(slots, hint, now) is { } last)
        {
            return last;
        }

        for (var i = 0; i < slots.Length; i++)
        {
            if (Take(slots, i, now) is { } connection)
            {
                return connection;
            }
        }

        return null;
    }

    /// <summary>The connection in slot <paramref name="index"/> if there is one and it may be reused (one that may not is closed).</summary>
    private Http1UpstreamConnection? Take(Http1UpstreamConnection?[] slots, int index, long now)
    {
        if (Volatile.Read(ref slots[index]) is null || Interlocked.Exchange(ref slots[index], null) is not { } connection)
        {
            return null;
        }

        Interlocked.Decrement(ref _idleCount);
        if (IsExpired(connection, now) || (now - connection.IdleSince > _staleCheckTicks && connection.LooksClosed()))
        {
            Close(connection);
            return null;
        }

        return connection;
    }

    /// <summary>A new, not yet connected connection counted as open.</summary>
    /// <param name="thread">The epoll engine thread to connect on (the client connection's); null: the calling one.</param>
    public Http1UpstreamConnection Create(Sockets.EpollThread? thread = null)
    {
        Interlocked.Increment(ref _open);
        var connection = new Http1UpstreamConnection(this, thread);
        _all.TryAdd(connection, 0);
        return connection;
    }

    /// <summary>Every open connection, idle or busy, for the activity sweep (added on open, removed on close: not per exchange).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Http1UpstreamConnection, byte> _all = new(ReferenceEqualityComparer.Instance);

    /// <summary>Buffer bytes held by every open connection, busy or idle, now (diagnostics and tests).</summary>
    public long BufferBytes
    {
        get
        {
            long total = 0;
            foreach (var entry in _all)
            {
                total += entry.Key.BufferBytes;
            }

            return total;
        }
    }

    /// <summary>The activity sweep: cancels the exchanges whose activity timeout expired at <paramref name="now"/>.</summary>
    internal void CheckActivity(long now)
    {
        foreach (var entry in _all)
        {
            entry.Key.CheckActivity(now);
        }
    }

    /// <summary>Puts a connection whose exchange ended cleanly back for reuse (or closes it when the pool is full, expired or dropped).</summary>
    public void Return(Http1UpstreamConnection connection) => Return(connection, Cluster.Time.GetTimestamp());

    /// <summary>As <see cref="Return(Http1UpstreamConnection)"/>, at <paramref name="now"/> (the caller's clock read).</summary>
    public void Return(Http1UpstreamConnection connection, long now)
    {
        if (!Cluster.IsDisposed && !IsExpired(connection, now))
        {
            connection.IdleSince = now;
            var slots = _idle;
            for (var i = 0; i < slots.Length; i++)
            {
                if (Volatile.Read(ref slots[i]) is null && Interlocked.CompareExchange(ref slots[i], connection, null) is null)
                {
                    Interlocked.Increment(ref _idleCount);
                    Volatile.Write(ref _lastReturned, i);
                    if (_lastReturnedOn is { } hints && connection.EngineThread is { } thread)
                    {
                        Volatile.Write(ref hints[thread.Index], i);
                    }

                    if (Cluster.IsDisposed)
                    {
                        // Dropped while we returned: do not leave it behind.
                        CloseIdle();
                    }

                    return;
                }
            }
        }

        Close(connection);
    }

    /// <summary>Closes a connection that must not be reused (broken exchange, upstream asked to close, …).</summary>
    public void Close(Http1UpstreamConnection connection)
    {
        if (connection.Dispose())
        {
            _all.TryRemove(connection, out _);
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>The sweep: closes expired idle connections and takes the buffers of those idle for <see cref="ReleaseBuffersAfter"/>.</summary>
    internal void CloseExpired()
    {
        var now = Cluster.Time.GetTimestamp();
        var slots = _idle;
        for (var i = 0; i < slots.Length; i++)
        {
            if (Volatile.Read(ref slots[i]) is not { } candidate)
            {
                continue;
            }

            if (IsExpired(candidate, now))
            {
                if (Interlocked.CompareExchange(ref slots[i], null, candidate) == candidate)
                {
                    Interlocked.Decrement(ref _idleCount);
                    Close(candidate);
                }
            }
            else if (candidate.BufferBytes > 0 && Cluster.Time.GetElapsedTime(candidate.IdleSince, now) >= ReleaseBuffersAfter
                && Interlocked.CompareExchange(ref slots[i], null, candidate) == candidate)
            {
                // Out of its slot, nobody can rent it while its buffers go back; then parked again (or closed if the
                // slot was taken meanwhile and no other is free).
                candidate.ReleaseBuffers();
                if (Interlocked.CompareExchange(ref slots[i], candidate, null) is not null)
                {
                    Interlocked.Decrement(ref _idleCount);
                    Return(candidate);
                }
            }
        }
    }

    internal void CloseIdle()
    {
        var slots = _idle;
        for (var i = 0; i < slots.Length; i++)
        {
            if (Interlocked.Exchange(ref slots[i], null) is { } connection)
            {
                Interlocked.Decrement(ref _idleCount);
                Close(connection);
            }
        }
    }

    /// <summary><see cref="StaleCheckAfter"/> in timestamp units.</summary>
    private readonly long _staleCheckTicks;

    private bool IsExpired(Http1UpstreamConnection connection, long now) =>
        (connection.IdleSince != 0 && now - connection.IdleSince >= Cluster.IdleTimeoutTicks)
        || (Cluster.LifetimeTicks != long.MaxValue && now - connection.CreatedAt >= Cluster.LifetimeTicks);
}
