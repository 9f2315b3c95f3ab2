using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>Cycles through the destinations with one shared <see cref="Interlocked"/> counter per cluster.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private uint _counter = uint.MaxValue;

    public string Name => "roundRobin";

    public DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude)
    {
        var count = destinations.Length;
        if (count == 0)
        {
            return null;
        }

        var start = (int)(Interlocked.Increment(ref _counter) % (uint)count);
        var candidate = destinations[start];
        if (ReferenceEquals(candidate, exclude) && count > 1)
        {
            candidate = destinations[(start + 1) % count];
        }

        return candidate;
    }
}
