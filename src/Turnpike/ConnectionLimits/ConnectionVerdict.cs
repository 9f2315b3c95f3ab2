namespace Turnpike.ConnectionLimits;

/// <summary>What the connection limits decided about one new connection; every refusal has its own counter.</summary>
internal enum ConnectionVerdict
{
    Accepted,
    /// <summary><c>server.limits.maxConcurrentConnections</c>: too many open connections on all listeners together.</summary>
    GlobalLimit,
    /// <summary><c>connectionLimits.total</c>: too many open connections on this listener.</summary>
    ListenerLimit,
    /// <summary><c>connectionLimits.perIp</c>: this client IP already has that many open connections.</summary>
    PerIpLimit,
    /// <summary><c>connectionLimits.newPerIpPerSecond</c>/<c>burst</c>: this client IP opens connections too fast.</summary>
    RateLimit,
    /// <summary><c>connectionLimits.maxTrackedIps</c>: the table of client IPs is full, so a new IP cannot be tracked.</summary>
    TrackerFull,
}
