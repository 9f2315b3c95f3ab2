using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>A uniformly random destination (<see cref="Random.Shared"/> is thread-safe); on a retry, uniformly among the others.</summary>
internal sealed class RandomPolicy : ILoadBalancingPolicy
{
    public string Name => "random";

    public DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude)
    {
        var count = destinations.Length;
        if (count == 0)
        {
            return null;
        }

        var index = Random.Shared.Next(count);
        if (count > 1 && ReferenceEquals(destinations[index], exclude))
        {
            // Any of the other count - 1, each equally likely.
            index = (index + 1 + Random.Shared.Next(count - 1)) % count;
        }

        return destinations[index];
    }
}
