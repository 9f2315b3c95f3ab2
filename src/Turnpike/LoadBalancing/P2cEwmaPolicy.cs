using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>
/// Power of two choices: two distinct destinations at random, the cheaper one wins, cost being the peak-EWMA latency
/// (<see cref="DestinationModel.Latency"/>) × (in-flight + 1). Destinations built without a latency tracker count
/// as <see cref="PeakEwma.DefaultEstimateMs"/>.
/// </summary>
internal sealed class P2cEwmaPolicy(TimeProvider time) : ILoadBalancingPolicy
{
    public string Name => "p2c_ewma";

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

        var first = Random.Shared.Next(count);
        var second = Random.Shared.Next(count - 1);
        if (second >= first)
        {
            second++;
        }

        var a = destinations[first];
        var b = destinations[second];
        if (exclude is not null)
        {
            if (ReferenceEquals(a, exclude))
            {
                return b;
            }

            if (ReferenceEquals(b, exclude))
            {
                return a;
            }
        }

        var now = time.GetTimestamp();
        return Cost(b, now) < Cost(a, now) ? b : a;
    }

    internal static double Cost(DestinationModel destination, long now)
    {
        var latency = destination.Latency?.EstimateMs(now) ?? PeakEwma.DefaultEstimateMs;
        return latency * (destination.InFlight + 1);
    }
}
