using System.Diagnostics.Metrics;
using Turnpike.ConnectionLimits;
using Turnpike.Model;

namespace Turnpike.Observability;

/// <summary>
/// What the gateway refused at its edge, exported from the Interlocked counters the limits already keep (so
/// nothing is counted twice and the request path does no extra work): <c>turnpike.rate_limit.rejected</c>
/// (policy, route) and <c>turnpike.rate_limit.admitted</c> (policy) from each policy's
/// <see cref="RateLimiting.RateLimitCounters"/>, and per proxy listener with connection limits
/// <c>turnpike.connections.accepted</c>, <c>turnpike.connections.rejected</c> (reason) and
/// <c>turnpike.connections.open</c>. Observable: read only when collected.
/// </summary>
/// <remarks>A rate-limit policy's counters start from zero when a reload changes the policy; Prometheus's
/// <c>rate()</c> treats that as a counter reset.</remarks>
internal sealed class EdgeMetrics
{
    private static readonly string[] Reasons = ["global_limit", "listener_limit", "per_ip_limit", "rate_limit", "tracker_full"];
    private readonly GatewayState _state;
    private readonly ConnectionLimiter _connections;

    public EdgeMetrics(IMeterFactory meterFactory, GatewayState state, ConnectionLimiter connections)
    {
        _state = state;
        _connections = connections;
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        meter.CreateObservableCounter("turnpike.rate_limit.rejected", RateLimitRejected, "{request}", "Requests answered 429 by a rate-limit policy, by policy and route.");
        meter.CreateObservableCounter("turnpike.rate_limit.admitted", RateLimitAdmitted, "{request}", "Requests a rate-limit policy let through.");
        meter.CreateObservableCounter("turnpike.connections.accepted", Accepted, "{connection}", "Connections accepted on a proxy listener with connection limits.");
        meter.CreateObservableCounter("turnpike.connections.rejected", Rejected, "{connection}", "Connections closed at accept by a connection limit, by listener and reason.");
        meter.CreateObservableUpDownCounter("turnpike.connections.open", Open, "{connection}", "Open connections on a proxy listener with connection limits.");
    }

    private IEnumerable<Measurement<long>> RateLimitRejected()
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var (name, policy) in _state.Current.RateLimits.Policies)
        {
            foreach (var (route, count) in policy.Counters.RejectedByRoute)
            {
                yield return new Measurement<long>(Volatile.Read(ref count.Value), new KeyValuePair<string, object?>("policy", name), new KeyValuePair<string, object?>("route", route));
            }
        }
    }

    private IEnumerable<Measurement<long>> RateLimitAdmitted()
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var (name, policy) in _state.Current.RateLimits.Policies)
        {
            yield return new Measurement<long>(policy.Counters.Admitted, new KeyValuePair<string, object?>("policy", name));
        }
    }

    private IEnumerable<Measurement<long>> Accepted()
    {
        foreach (var listener in _connections.Listeners)
        {
            if (_connections.Enforces(listener.Name))
            {
                yield return new Measurement<long>(listener.Counters.Accepted, new KeyValuePair<string, object?>("listener", listener.Name));
            }
        }
    }

    private IEnumerable<Measurement<long>> Rejected()
    {
        foreach (var listener in _connections.Listeners)
        {
            if (!_connections.Enforces(listener.Name))
            {
                continue;
            }

            var c = listener.Counters;
            long[] values = [c.GlobalLimit, c.ListenerLimit, c.PerIpLimit, c.RateLimit, c.TrackerFull];
            for (var i = 0; i < Reasons.Length; i++)
            {
                yield return new Measurement<long>(values[i], new KeyValuePair<string, object?>("listener", listener.Name), new KeyValuePair<string, object?>("reason", Reasons[i]));
            }
        }
    }

    private IEnumerable<Measurement<long>> Open()
    {
        foreach (var listener in _connections.Listeners)
        {
            if (_connections.Enforces(listener.Name))
            {
                yield return new Measurement<long>(listener.Active, new KeyValuePair<string, object?>("listener", listener.Name));
            }
        }
    }
}
