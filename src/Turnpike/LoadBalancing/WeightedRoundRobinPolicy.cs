using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>
/// nginx's smooth weighted round robin, precomputed: at build time the weights are reduced by their GCD (and scaled
/// down when they still sum to more than <see cref="MaxSequenceLength"/>), nginx's algorithm is run for one full
/// period (each step: every current += weight; pick the largest, first on ties; its current -= total), and the
/// resulting sequence is indexed with one <see cref="Interlocked"/> counter. Weights 5:1:1 give a a b a c a a.
/// Weight-0 destinations never appear in the sequence.
/// </summary>
internal sealed class WeightedRoundRobinPolicy : ILoadBalancingPolicy
{
    /// <summary>Longest precomputed period; heavier weight sets are scaled down proportionally (every weight stays ≥ 1).</summary>
    internal const int MaxSequenceLength = 4096;

    private readonly DestinationModel[] _destinations;
    private readonly DestinationModel[] _sequence;
    private uint _counter = uint.MaxValue;
    private uint _fallbackCounter = uint.MaxValue;

    public WeightedRoundRobinPolicy(DestinationModel[] destinations)
    {
        _destinations = destinations;
        var weights = ReduceWeights(destinations);
        var order = BuildSequence(weights);
        _sequence = new DestinationModel[order.Length];
        for (var i = 0; i < order.Length; i++)
        {
            _sequence[i] = destinations[order[i]];
        }
    }

    public string Name => "weighted_round_robin";

    /// <summary>The precomputed period, for tests and diagnostics.</summary>
    internal ReadOnlySpan<DestinationModel> Sequence => _sequence;

    public DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude)
    {
        if (!ReferenceEquals(destinations, _destinations))
        {
            // Not the set the sequence was built for (e.g. a filtered subset): plain round robin over what was given.
            return RoundRobin.Next(ref _fallbackCounter, destinations, exclude);
        }

        var sequence = _sequence;
        var length = sequence.Length;
        if (length == 0)
        {
            return null;
        }

        var index = (int)(Interlocked.Increment(ref _counter) % (uint)length);
        var candidate = sequence[index];
        if (exclude is not null && ReferenceEquals(candidate, exclude))
        {
            // The next different destination in the sequence; if there is none, the excluded one is all there is.
            for (var step = 1; step < length; step++)
            {
                var next = sequence[(index + step) % length];
                if (!ReferenceEquals(next, exclude))
                {
                    return next;
                }
            }
        }

        return candidate;
    }

    internal static int[] ReduceWeights(DestinationModel[] destinations)
    {
        var weights = new int[destinations.Length];
        var gcd = 0;
        long total = 0;
        for (var i = 0; i < destinations.Length; i++)
        {
            var w = Math.Max(0, destinations[i].Weight);
            weights[i] = w;
            gcd = Gcd(gcd, w);
            total += w;
        }

        if (gcd > 1)
        {
            total = 0;
            for (var i = 0; i < weights.Length; i++)
            {
                weights[i] /= gcd;
                total += weights[i];
            }
        }

        if (total > MaxSequenceLength)
        {
            for (var i = 0; i < weights.Length; i++)
            {
                if (weights[i] > 0)
                {
                    weights[i] = (int)Math.Max(1, Math.Round((double)weights[i] * MaxSequenceLength / total));
                }
            }
        }

        return weights;
    }

    /// <summary>One period of nginx's smooth weighted round robin over <paramref name="weights"/>, as destination indexes.</summary>
    internal static int[] BuildSequence(int[] weights)
    {
        var total = 0;
        foreach (var w in weights)
        {
            total += w;
        }

        var sequence = new int[total];
        var current = new long[weights.Length];
        for (var step = 0; step < total; step++)
        {
            var best = -1;
            for (var i = 0; i < weights.Length; i++)
            {
                if (weights[i] == 0)
                {
                    continue;
                }

                current[i] += weights[i];
                if (best < 0 || current[i] > current[best])
                {
                    best = i;
                }
            }

            current[best] -= total;
            sequence[step] = best;
        }

        return sequence;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
