using System.Globalization;

namespace Turnpike.Bench.DelayServer;

/// <summary>
/// Service delays in fixed proportions, e.g. <c>2ms:90,20ms:10</c>: of every 100 requests (in arrival order) 90 wait
/// 2 ms and 10 wait 20 ms, interleaved, so every 100 consecutive requests have exactly those proportions and the
/// true percentiles are known (here p50 = 2 ms, p99 = 20 ms).
/// </summary>
public sealed class DelayDistribution
{
    private readonly TimeSpan[] _byPosition;
    private long _next = -1;

    private DelayDistribution(TimeSpan[] byPosition, string text)
    {
        _byPosition = byPosition;
        Text = text;
    }

    public string Text { get; }

    /// <summary>The shortest delay of the distribution.</summary>
    public TimeSpan Shortest
    {
        get
        {
            var min = TimeSpan.MaxValue;
            foreach (var d in _byPosition)
            {
                min = d < min ? d : min;
            }

            return min;
        }
    }

    /// <summary>The delay of the next request.</summary>
    public TimeSpan Next() => _byPosition[(int)((ulong)Interlocked.Increment(ref _next) % (ulong)_byPosition.Length)];

    /// <summary>
    /// Parses <c>DELAY:WEIGHT[,DELAY:WEIGHT...]</c> (delays <c>500us</c>, <c>2ms</c>, <c>1s</c>; integer weights). The
    /// positions of each delay in a cycle of sum(weights) requests are spread evenly (Bresenham), not bunched.
    /// </summary>
    public static DelayDistribution Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new FormatException("expected DELAY:WEIGHT[,DELAY:WEIGHT...], e.g. 2ms:90,20ms:10");
        }

        var delays = new List<(TimeSpan Delay, int Weight)>();
        foreach (var part in parts)
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            var delayText = colon < 0 ? part : part[..colon];
            var weight = 1;
            if (colon >= 0 && (!int.TryParse(part[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out weight) || weight < 1 || weight > 10_000))
            {
                throw new FormatException($"'{part}': the weight after ':' must be an integer from 1 to 10000");
            }

            delays.Add((ParseDelay(delayText), weight));
        }

        var total = 0;
        foreach (var (_, w) in delays)
        {
            total += w;
        }

        var cycle = new TimeSpan[total];
        var filled = new int[delays.Count];
        for (var position = 0; position < total; position++)
        {
            // The delay furthest behind its share so far takes this position.
            var best = 0;
            var bestLag = double.MinValue;
            for (var d = 0; d < delays.Count; d++)
            {
                var lag = ((position + 1.0) * delays[d].Weight / total) - filled[d];
                if (lag > bestLag)
                {
                    bestLag = lag;
                    best = d;
                }
            }

            filled[best]++;
            cycle[position] = delays[best].Delay;
        }

        return new DelayDistribution(cycle, text);
    }

    private static TimeSpan ParseDelay(string text)
    {
        (string Suffix, double Scale)[] units = [("us", 0.001), ("ms", 1), ("s", 1000)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
                && value >= 0 && value * scale <= 60_000)
            {
                return TimeSpan.FromMilliseconds(value * scale);
            }
        }

        throw new FormatException($"'{text}' is not a delay (examples: 500us, 2ms, 1s; at most 60s)");
    }
}
