using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>Chooses the destination for one attempt. Implementations are lock-free and allocation-free.</summary>
internal interface ILoadBalancingPolicy
{
    string Name { get; }

    /// <summary>Picks a destination, avoiding <paramref name="exclude"/> (the one a failed attempt used) when another exists.</summary>
    DestinationModel? Pick(DestinationModel[] destinations, DestinationModel? exclude);
}
