using System.Diagnostics;
using HdrHistogram;

namespace Turnpike.Tools.Bench;

/// <summary>Latency in microseconds in an HDR histogram (1 µs .. 1 h, 3 significant digits).</summary>
internal static class LatencyHistogram
{
    public const long HighestMicros = 3_600_000_000;
    public const int SignificantDigits = 3;

    public static LongConcurrentHistogram CreateConcurrent() => new(1, HighestMicros, SignificantDigits);

    public static LongHistogram Create() => new(1, HighestMicros, SignificantDigits);

    /// <summary>Stopwatch ticks to whole microseconds, clamped to the histogram's range.</summary>
    public static long ToMicros(long ticks)
    {
        var micros = ticks <= 0 ? 1 : (long)(ticks * (1_000_000.0 / Stopwatch.Frequency));
        return micros < 1 ? 1 : micros > HighestMicros ? HighestMicros : micros;
    }

    public static LatencySummary Summarize(HistogramBase histogram)
    {
        if (histogram.TotalCount == 0)
        {
            return new LatencySummary();
        }

        long min = 0;
        foreach (var value in histogram.RecordedValues())
        {
            min = histogram.LowestEquivalentValue(value.ValueIteratedTo);
            break;
        }

        return new LatencySummary
        {
            Count = histogram.TotalCount,
            Min = Ms(min),
            Mean = Math.Round(histogram.GetMean() / 1000.0, 3),
            Stdev = Math.Round(histogram.GetStdDeviation() / 1000.0, 3),
            P50 = Ms(histogram.GetValueAtPercentile(50)),
            P90 = Ms(histogram.GetValueAtPercentile(90)),
            P99 = Ms(histogram.GetValueAtPercentile(99)),
            P999 = Ms(histogram.GetValueAtPercentile(99.9)),
            P9999 = Ms(histogram.GetValueAtPercentile(99.99)),
            Max = Ms(histogram.GetMaxValue()),
        };
    }

    private static double Ms(long micros) => micros / 1000.0;
}
