using System.Net;
using Turnpike.Configuration;

namespace Turnpike.ConnectionLimits;

/// <summary>
/// All connection limits of the gateway: the process-wide cap (<c>server.limits.maxConcurrentConnections</c>) and one
/// <see cref="ListenerConnectionLimiter"/> per proxy listener. Built once at start-up; limits change with a restart.
/// </summary>
internal sealed class ConnectionLimiter : IDisposable
{
    private readonly Dictionary<string, ListenerConnectionLimiter> _listeners = new(StringComparer.Ordinal);
    private readonly List<ListenerConnectionLimiter> _ordered = [];
    private int _active;

    public ConnectionLimiter(GatewayConfig config, TimeProvider time, TimeSpan? sweepInterval = null)
    {
        MaxConcurrentConnections = config.Server.Limits.MaxConcurrentConnections ?? 0;
        foreach (var listener in config.Listeners)
        {
            var options = listener.ConnectionLimits is { } limits ? new ConnectionLimitOptions(limits, time.TimestampFrequency) : null;
            var tracker = options is { TracksIps: true } ? new PerIpConnectionTracker(options, time, sweepInterval) : null;
            var limiter = new ListenerConnectionLimiter(listener.Name, this, options, tracker);
            _listeners[listener.Name] = limiter;
            _ordered.Add(limiter);
        }
    }

    /// <summary>Open connections on all listeners together; 0: no limit.</summary>
    public int MaxConcurrentConnections { get; }

    public int Active => Volatile.Read(ref _active);

    public IReadOnlyList<ListenerConnectionLimiter> Listeners => _ordered;

    /// <summary>Whether a listener needs the connection middleware at all.</summary>
    public bool Enforces(string listener) =>
        MaxConcurrentConnections > 0 || _listeners[listener].Options is { } o && (o.Total > 0 || o.TracksIps);

    public ListenerConnectionLimiter ForListener(string name) => _listeners[name];

    internal bool TryAcquireGlobal()
    {
        var limit = MaxConcurrentConnections;
        if (limit <= 0)
        {
            Interlocked.Increment(ref _active);
            return true;
        }

        return TryIncrementBelow(ref _active, limit);
    }

    internal void ReleaseGlobal() => Interlocked.Decrement(ref _active);

    internal static bool TryIncrementBelow(ref int counter, int limit)
    {
        var current = Volatile.Read(ref counter);
        while (current < limit)
        {
            var seen = Interlocked.CompareExchange(ref counter, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void Dispose()
    {
        foreach (var listener in _ordered)
        {
            listener.Tracker?.Dispose();
        }
    }
}

/// <summary>The connection limits of one listener, applied by <see cref="ConnectionLimitMiddleware"/> to each accepted connection.</summary>
internal sealed class ListenerConnectionLimiter
{
    private readonly ConnectionLimiter _server;
    private int _active;

    public ListenerConnectionLimiter(string name, ConnectionLimiter server, ConnectionLimitOptions? options, PerIpConnectionTracker? tracker)
    {
        Name = name;
        _server = server;
        Options = options;
        Tracker = tracker;
    }

    public string Name { get; }

    public ConnectionLimitOptions? Options { get; }

    public PerIpConnectionTracker? Tracker { get; }

    public ConnectionLimitCounters Counters { get; } = new();

    public int Active => Volatile.Read(ref _active);

    /// <summary>
    /// Decides about a new connection from <paramref name="remote"/>: global cap, listener total, then (unless the IP
    /// is exempt) open connections and new-connection rate of its IP. Counts the verdict. When accepted,
    /// <paramref name="entry"/> (null if the IP is not tracked) goes back to <see cref="Release"/> at the end.
    /// </summary>
    public ConnectionVerdict TryAccept(EndPoint? remote, out IpEntry? entry)
    {
        entry = null;
        var verdict = Admit(remote, ref entry);
        Counters.Count(verdict);
        return verdict;
    }

    private ConnectionVerdict Admit(EndPoint? remote, ref IpEntry? entry)
    {
        if (!_server.TryAcquireGlobal())
        {
            return ConnectionVerdict.GlobalLimit;
        }

        var options = Options;
        if (options is null)
        {
            Interlocked.Increment(ref _active);
            return ConnectionVerdict.Accepted;
        }

        if (options.Total > 0 ? !ConnectionLimiter.TryIncrementBelow(ref _active, options.Total) : Interlocked.Increment(ref _active) <= 0)
        {
            _server.ReleaseGlobal();
            return ConnectionVerdict.ListenerLimit;
        }

        // Connections that are not from an IP (a Unix socket) are not tracked.
        if (Tracker is { } tracker && remote is IPEndPoint ip && IpKey.TryCreate(ip.Address, out var key) && !options.IsExempt(key))
        {
            var verdict = tracker.TryAcquire(key, out entry);
            if (verdict != ConnectionVerdict.Accepted)
            {
                Interlocked.Decrement(ref _active);
                _server.ReleaseGlobal();
                return verdict;
            }
        }

        return ConnectionVerdict.Accepted;
    }

    /// <summary>An accepted connection has ended.</summary>
    public void Release(IpEntry? entry)
    {
        if (entry is not null)
        {
            PerIpConnectionTracker.Release(entry);
        }

        Interlocked.Decrement(ref _active);
        _server.ReleaseGlobal();
    }
}
