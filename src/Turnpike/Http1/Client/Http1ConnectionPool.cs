using System.Collections.Concurrent;
using Turnpike.Configuration;
using Turnpike.Connections;

namespace Turnpike.Http1.Client;

/// <summary>
/// The raw HTTP/1.1 client of one cluster (<c>clusters.*.http.engine: raw</c>): one <see cref="Http1DestinationPool"/>
/// of keep-alive connections per destination address, the cluster's <see cref="UpstreamConnector"/> (DNS cache, TCP_NODELAY),
/// and one <see cref="TimeProvider"/> timer that closes connections idle for longer than
/// <c>pooledConnectionIdleTimeout</c> or older than the pooled connection lifetime. Built by the runtime model and carried
/// across reloads while the cluster's HTTP settings are unchanged, like the YARP engine's <c>SocketsHttpHandler</c>.
/// </summary>
internal sealed class Http1ConnectionPool : IDisposable
{
    private readonly ConcurrentDictionary<string, Http1DestinationPool> _destinations = new(StringComparer.Ordinal);
    private readonly ITimer _sweep;
    private volatile bool _disposed;

    public Http1ConnectionPool(UpstreamHttpConfig http, bool resolvesNames, UpstreamConnector connector, TimeProvider time)
    {
        Sockets.SocketEngine.Validate();
        Http = http;
        Connector = connector;
        Time = time;
        IdleTimeout = http.PooledConnectionIdleTimeout;
        Lifetime = UpstreamClientFactory.PooledConnectionLifetime(http, resolvesNames);
        Limits = new Http1Limits(
            MaxRequestLineLength: 8 * 1024,
            MaxHeaderCount: 1024,
            MaxHeaderBytes: (int)Math.Min(int.MaxValue / 2, http.MaxResponseHeadersSize),
            MaxBodySize: long.MaxValue,
            MaxChunkExtensionLength: 1024,
            MaxTrailerBytes: 64 * 1024);
        var period = TimeSpan.FromTicks(Math.Clamp(Math.Min(IdleTimeout.Ticks, Lifetime == Timeout.InfiniteTimeSpan ? long.MaxValue : Lifetime.Ticks) / 4, TimeSpan.TicksPerSecond / 4, TimeSpan.TicksPerSecond * 15));
        _sweep = time.CreateTimer(static state => ((Http1ConnectionPool)state!).Sweep(), this, period, period);

        // Activity timeouts are deadlines on the connections, checked by a sweep at a quarter of the timeout (at most
        // every second): a timeout fires up to that much late, and no timer is armed per exchange.
        var activity = http.ActivityTimeout;
        ActivityTimeoutTicks = activity <= TimeSpan.Zero ? long.MaxValue : ToTimestampTicks(activity, time);
        IdleTimeoutTicks = ToTimestampTicks(IdleTimeout, time);
        LifetimeTicks = ToTimestampTicks(Lifetime, time);
        if (ActivityTimeoutTicks != long.MaxValue)
        {
            var activityPeriod = TimeSpan.FromTicks(Math.Clamp(activity.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond));
            _activitySweep = time.CreateTimer(static state => ((Http1ConnectionPool)state!).SweepActivity(), this, activityPeriod, activityPeriod);
        }
    }

    private readonly ITimer? _activitySweep;

    /// <summary><c>activityTimeout</c> in <see cref="TimeProvider"/> timestamp units; <see cref="long.MaxValue"/> when infinite.</summary>
    public long ActivityTimeoutTicks { get; }

    /// <summary><see cref="IdleTimeout"/> in timestamp units (compared as integers on every rent and return).</summary>
    public long IdleTimeoutTicks { get; }

    /// <summary><see cref="Lifetime"/> in timestamp units; <see cref="long.MaxValue"/> when infinite.</summary>
    public long LifetimeTicks { get; }

    /// <summary>A span in <paramref name="time"/>'s timestamp units, rounded up; <see cref="long.MaxValue"/> when infinite or out of range.</summary>
    internal static long ToTimestampTicks(TimeSpan span, TimeProvider time) =>
        span == Timeout.InfiniteTimeSpan || span.TotalSeconds * time.TimestampFrequency >= long.MaxValue / 2 ? long.MaxValue
        : (long)Math.Ceiling(span.TotalSeconds * time.TimestampFrequency);

    /// <summary>Cancels the exchanges whose activity deadline passed.</summary>
    internal void SweepActivity()
    {
        var now = Time.GetTimestamp();
        foreach (var pool in _destinations.Values)
        {
            pool.CheckActivity(now);
        }
    }

    public UpstreamHttpConfig Http { get; }

    public UpstreamConnector Connector { get; }

    public TimeProvider Time { get; }

    public TimeSpan IdleTimeout { get; }

    /// <summary><see cref="Timeout.InfiniteTimeSpan"/> when connections live as long as they are used.</summary>
    public TimeSpan Lifetime { get; }

    public Http1Limits Limits { get; }

    public bool IsDisposed => _disposed;

    /// <summary>The pool of <paramref name="address"/> (a destination's <c>http://host:port</c> prefix).</summary>
    public Http1DestinationPool For(string address) =>
        _destinations.TryGetValue(address, out var pool) ? pool : _destinations.GetOrAdd(address, static (a, self) => new Http1DestinationPool(self, a), this);

    /// <summary>Open connections over all destinations, idle and busy (for tests and diagnostics).</summary>
    public int OpenConnections => (int)Sum(static pool => pool.OpenConnections);

    /// <summary>Buffer bytes held by idle connections over all destinations (for tests and diagnostics; 0 by design).</summary>
    public long IdleBufferBytes => Sum(static pool => pool.IdleBufferBytes);

    /// <summary>Buffer bytes held by all open connections, busy or idle (tests: a connection waiting for its answer holds none on the epoll engine).</summary>
    public long BufferBytes => Sum(static pool => pool.BufferBytes);

    private long Sum(Func<Http1DestinationPool, long> value)
    {
        long total = 0;
        foreach (var pool in _destinations.Values)
        {
            total += value(pool);
        }

        return total;
    }

    /// <summary>Closes the expired idle connections of every destination.</summary>
    internal void Sweep()
    {
        foreach (var pool in _destinations.Values)
        {
            pool.CloseExpired();
        }
    }

    /// <summary>Closes idle connections now; connections still serving a request close when they come back.</summary>
    public void Dispose()
    {
        _disposed = true;
        _sweep.Dispose();
        _activitySweep?.Dispose();
        foreach (var pool in _destinations.Values)
        {
            pool.CloseIdle();
        }
    }
}
