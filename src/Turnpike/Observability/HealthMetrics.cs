using System.Diagnostics.Metrics;
using Turnpike.Model;

namespace Turnpike.Observability;

/// <summary>
/// Destination health as observable instruments, read from <see cref="GatewayState.Current"/> when a collector
/// asks (a scrape), never on the request path: <c>turnpike.circuit_breaker.state</c> (0 closed, 1 half-open,
/// 2 open; destinations with a breaker), <c>turnpike.destination.healthy</c> (1 when it may be picked: probes pass,
/// not ejected, breaker not open), <c>turnpike.destination.ejected</c>, <c>turnpike.destination.in_flight</c>,
/// and for clusters with <c>adaptiveConcurrency</c> <c>turnpike.concurrency.limit</c>,
/// <c>turnpike.concurrency.in_flight</c> and <c>turnpike.concurrency.shed</c>.
/// </summary>
internal sealed class HealthMetrics
{
    private readonly GatewayState _state;

    public HealthMetrics(IMeterFactory meterFactory, GatewayState state)
    {
        _state = state;
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        meter.CreateObservableGauge("turnpike.circuit_breaker.state", BreakerStates, description: "Circuit breaker state per destination: 0 closed, 1 half-open, 2 open.");
        meter.CreateObservableGauge("turnpike.destination.healthy", Healthy, description: "1 when the destination may be picked (probes pass, not ejected, breaker not open), else 0.");
        meter.CreateObservableGauge("turnpike.destination.ejected", Ejected, description: "1 while outlier detection has the destination ejected, else 0.");
        meter.CreateObservableUpDownCounter("turnpike.destination.in_flight", DestinationInFlight, "{request}", "Attempts in flight per destination.");
        meter.CreateObservableGauge("turnpike.concurrency.limit", ConcurrencyLimits, "{request}", "The adaptive concurrency limit of a cluster.");
        meter.CreateObservableUpDownCounter("turnpike.concurrency.in_flight", ConcurrencyInFlight, "{request}", "Requests admitted by a cluster's adaptive concurrency limiter and not yet finished.");
        meter.CreateObservableCounter("turnpike.concurrency.shed", ConcurrencyShed, "{request}", "Requests answered 503 because a cluster was at its adaptive concurrency limit.");
    }

    private IEnumerable<Measurement<int>> BreakerStates()
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var cluster in _state.Current.Clusters.Values)
        {
            foreach (var d in cluster.Destinations)
            {
                if (d.Health?.Breaker is { } breaker)
                {
                    yield return new Measurement<int>((int)breaker.State, Tags(cluster, d));
                }
            }
        }
    }

    private IEnumerable<Measurement<int>> Healthy() => PerDestination(static d => d.Health is not { Available: false } ? 1 : 0);

    private IEnumerable<Measurement<int>> Ejected() => PerDestination(static d => d.Health is { Ejected: true } ? 1 : 0);

    private IEnumerable<Measurement<long>> DestinationInFlight()
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var cluster in _state.Current.Clusters.Values)
        {
            foreach (var d in cluster.Destinations)
            {
                yield return new Measurement<long>(d.InFlight, Tags(cluster, d));
            }
        }
    }

    private IEnumerable<Measurement<int>> PerDestination(Func<DestinationModel, int> value)
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var cluster in _state.Current.Clusters.Values)
        {
            foreach (var d in cluster.Destinations)
            {
                yield return new Measurement<int>(value(d), Tags(cluster, d));
            }
        }
    }

    private IEnumerable<Measurement<long>> ConcurrencyLimits() => PerLimiter(static l => l.Limit);

    private IEnumerable<Measurement<long>> ConcurrencyInFlight() => PerLimiter(static l => l.InFlight);

    private IEnumerable<Measurement<long>> ConcurrencyShed() => PerLimiter(static l => l.Shed);

    private IEnumerable<Measurement<long>> PerLimiter(Func<Concurrency.AdaptiveConcurrencyLimiter, long> value)
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var cluster in _state.Current.Clusters.Values)
        {
            if (cluster.Concurrency is { } limiter)
            {
                yield return new Measurement<long>(value(limiter), new KeyValuePair<string, object?>("cluster", cluster.Id));
            }
        }
    }

    private static KeyValuePair<string, object?>[] Tags(ClusterModel cluster, DestinationModel destination) =>
        [new("cluster", cluster.Id), new("destination", destination.Id)];
}
