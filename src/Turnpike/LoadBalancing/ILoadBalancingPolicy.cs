using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>Chooses the destination for one attempt. Implementations are lock-free and allocation-free.</summary>
internal interface ILoadBalancingPolicy
{
    string Name { get; }

    /// <summary>
    /// Picks one of <paramref name="destinations"/> (all eligible), avoiding <paramref name="exclude"/> (the one a
    /// failed attempt used) when another exists. <paramref name="context"/> is there for policies that key on the
    /// request (consistent hashing); the others ignore it.
    /// </summary>
    DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude);
}
