using Turnpike.ConnectionLimits;

namespace Turnpike.Admin;

/// <summary>
/// <c>GET /admin/connections</c>: open connections and what the connection limits accepted and refused, in all and
/// per listener. Counters run from process start.
/// </summary>
internal sealed record ConnectionsResponse(
    int Active,
    int? MaxConcurrentConnections,
    long Accepted,
    long Rejected,
    RejectedConnections RejectedBy,
    IReadOnlyList<ListenerConnections> Listeners)
{
    public static ConnectionsResponse From(ConnectionLimiter limiter)
    {
        var listeners = new List<ListenerConnections>(limiter.Listeners.Count);
        long accepted = 0, global = 0, listener = 0, perIp = 0, rate = 0, full = 0;
        foreach (var l in limiter.Listeners)
        {
            var c = l.Counters;
            var rejectedBy = new RejectedConnections(c.GlobalLimit, c.ListenerLimit, c.PerIpLimit, c.RateLimit, c.TrackerFull);
            listeners.Add(new ListenerConnections(l.Name, l.Active, l.Options?.Total is > 0 ? l.Options.Total : null, l.Tracker?.Count ?? 0, c.Accepted, c.Rejected, rejectedBy));
            accepted += c.Accepted;
            global += c.GlobalLimit;
            listener += c.ListenerLimit;
            perIp += c.PerIpLimit;
            rate += c.RateLimit;
            full += c.TrackerFull;
        }

        var all = new RejectedConnections(global, listener, perIp, rate, full);
        return new ConnectionsResponse(
            limiter.Active,
            limiter.MaxConcurrentConnections > 0 ? limiter.MaxConcurrentConnections : null,
            accepted,
            global + listener + perIp + rate + full,
            all,
            listeners);
    }
}

/// <summary>Refused connections by reason (see <see cref="ConnectionVerdict"/>).</summary>
internal sealed record RejectedConnections(long GlobalLimit, long ListenerLimit, long PerIpLimit, long RateLimit, long TrackerFull);

internal sealed record ListenerConnections(
    string Name,
    int Active,
    int? Total,
    int TrackedIps,
    long Accepted,
    long Rejected,
    RejectedConnections RejectedBy);
