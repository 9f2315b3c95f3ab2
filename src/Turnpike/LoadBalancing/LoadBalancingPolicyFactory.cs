using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>Builds a cluster's destinations and load-balancing policy from its config, once per config load.</summary>
internal static class LoadBalancingPolicyFactory
{
    /// <summary>The cluster's destinations; with p2c_ewma each gets a latency tracker on <paramref name="time"/>.</summary>
    public static DestinationModel[] CreateDestinations(ClusterConfig cluster, TimeProvider time)
    {
        var lb = cluster.LoadBalancing;
        var destinations = new DestinationModel[cluster.Destinations.Count];
        for (var i = 0; i < destinations.Length; i++)
        {
            var latency = lb.Policy == LoadBalancingPolicyKind.P2cEwma ? new PeakEwma(time, lb.EwmaDecay) : null;
            destinations[i] = new DestinationModel(cluster.Destinations[i], latency);
        }

        return destinations;
    }

    public static ILoadBalancingPolicy Create(LoadBalancingConfig config, DestinationModel[] destinations, TimeProvider time) => config.Policy switch
    {
        LoadBalancingPolicyKind.RoundRobin => new RoundRobinPolicy(),
        LoadBalancingPolicyKind.WeightedRoundRobin => new WeightedRoundRobinPolicy(destinations),
        LoadBalancingPolicyKind.LeastConnections => new LeastConnectionsPolicy(),
        LoadBalancingPolicyKind.Random => new RandomPolicy(),
        LoadBalancingPolicyKind.P2cEwma => new P2cEwmaPolicy(time),
        LoadBalancingPolicyKind.ConsistentHash => new ConsistentHashPolicy(destinations, config.HashKey),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Policy, "unknown load-balancing policy"),
    };
}
