using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>Cycles through the destinations with one shared <see cref="Interlocked"/> counter per cluster.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private uint _counter = uint.MaxValue;

    public string Name => "round_robin";

    public DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude) =>
        RoundRobin.Next(ref _counter, destinations, exclude);
}
