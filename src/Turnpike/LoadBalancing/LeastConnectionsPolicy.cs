using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>
/// The destination with the fewest in-flight requests; ties are broken round robin. One pass finds the minimum and
/// how many destinations share it; a second takes the (counter mod ties)-th of them, the counter being one
/// <see cref="Interlocked"/> increment per pick. (Rotating the scan's start index instead would favour whichever
/// destination follows a busy one.) Loads read in the two passes may differ under concurrency; then the first
/// pass's choice stands.
/// </summary>
internal sealed class LeastConnectionsPolicy : ILoadBalancingPolicy
{
    private uint _counter = uint.MaxValue;

    public string Name => "least_connections";

    public DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude)
    {
        var count = destinations.Length;
        if (count == 0)
        {
            return null;
        }

        if (count == 1)
        {
            return destinations[0];
        }

        DestinationModel? best = null;
        var bestLoad = long.MaxValue;
        var ties = 0;
        for (var i = 0; i < count; i++)
        {
            var candidate = destinations[i];
            if (ReferenceEquals(candidate, exclude))
            {
                continue;
            }

            var load = candidate.InFlight;
            if (load < bestLoad)
            {
                best = candidate;
                bestLoad = load;
                ties = 1;
            }
            else if (load == bestLoad)
            {
                ties++;
            }
        }

        if (ties > 1)
        {
            var k = (int)(Interlocked.Increment(ref _counter) % (uint)ties);
            for (var i = 0; i < count; i++)
            {
                var candidate = destinations[i];
                if (!ReferenceEquals(candidate, exclude) && candidate.InFlight == bestLoad && k-- == 0)
                {
                    return candidate;
                }
            }
        }

        return best;
    }
}
