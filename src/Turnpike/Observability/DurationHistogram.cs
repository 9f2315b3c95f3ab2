using System.Globalization;
using System.Text;

namespace Turnpike.Observability;

/// <summary>
/// One series of a duration histogram with the fixed bounds of <see cref="TurnpikeMeter.DurationBuckets"/>: a count
/// per bucket and the sum, each kept with <see cref="Interlocked"/>, read at scrape time.
/// </summary>
/// <remarks>
/// The request path records two durations per request (the request and its upstream attempt). Passed to
/// OpenTelemetry's SDK as <c>Histogram.Record</c> with a label array, each measurement looked its series up by the
/// labels and took the series' lock (~2 % of the gateway's CPU per request, issue #8). The series of a route or
/// destination is known on the request path already, and the bounds never change, so a measurement is a few
/// comparisons and two interlocked adds here; <see cref="DurationHistogramExport"/> writes the series into the
/// scrape in the exporter's format, and OpenTelemetry no longer aggregates these two instruments. The instruments
/// still exist and are still recorded when another listener (the dashboard, a test) listens.
/// </remarks>
internal sealed class DurationHistogram
{
    /// <summary>The bucket bounds in <see cref="TimeSpan"/> ticks (a value equal to a bound counts in its bucket, as
    /// Prometheus' <c>le</c> says).</summary>
    private static readonly long[] BoundTicks = ToTicks(TurnpikeMeter.DurationBuckets);

    private readonly long[] _counts = new long[BoundTicks.Length + 1];
    private long _sumTicks;

    /// <param name="labels">The series' labels as the exposition writes them, e.g. <c>cluster="c",route="r"</c>
    /// (keys in alphabetical order, as OpenTelemetry's exporter sorts them).</param>
    public DurationHistogram(string labels)
    {
        Labels = labels;
    }

    /// <summary>The series' labels, rendered once (see the constructor).</summary>
    public string Labels { get; }

    public void Record(TimeSpan elapsed)
    {
        var ticks = elapsed.Ticks;
        var bounds = BoundTicks;
        var i = 0;
        while (i < bounds.Length && ticks > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _sumTicks, ticks);
    }

    /// <summary>Renders <c>key="value"</c> pairs, the values escaped as the text format asks.</summary>
    public static string RenderLabels(params ReadOnlySpan<(string Key, string Value)> labels)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in labels)
        {
            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(key).Append("=\"");
            foreach (var c in value)
            {
                _ = c switch
                {
                    '\\' => text.Append("\\\\"),
                    '"' => text.Append("\\\""),
                    '\n' => text.Append("\\n"),
                    _ => text.Append(c),
                };
            }

            text.Append('"');
        }

        return text.ToString();
    }

    /// <summary>
    /// Writes this series' lines (cumulative <c>_bucket</c> lines, <c>_sum</c>, <c>_count</c>) under
    /// <paramref name="name"/>, as OpenTelemetry's Prometheus exporter does: <paramref name="scope"/> first among the
    /// labels, and in OpenMetrics every <c>le</c> a float (<c>1.0</c>). Nothing when the series has no measurement yet.
    /// </summary>
    public void WriteTo(StringBuilder text, string name, string scope, bool openMetrics)
    {
        Span<long> counts = stackalloc long[_counts.Length];
        long total = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Volatile.Read(ref _counts[i]);
            total += counts[i];
        }

        if (total == 0)
        {
            return;
        }

        var sum = Volatile.Read(ref _sumTicks) / (double)TimeSpan.TicksPerSecond;
        var labels = Labels.Length == 0 ? scope : scope + "," + Labels;
        long cumulative = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            cumulative += counts[i];
            var le = i < BoundTicks.Length ? FormatBound(TurnpikeMeter.DurationBuckets[i], openMetrics) : "+Inf";
            text.Append(name).Append("_bucket{").Append(labels).Append(",le=\"").Append(le).Append("\"} ")
                .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        text.Append(name).Append("_sum{").Append(labels).Append("} ").Append(sum.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append(name).Append("_count{").Append(labels).Append("} ").Append(total.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string FormatBound(double bound, bool openMetrics)
    {
        var text = bound.ToString(CultureInfo.InvariantCulture);
        return openMetrics && !text.Contains('.', StringComparison.Ordinal) && !text.Contains('E', StringComparison.Ordinal) ? text + ".0" : text;
    }

    private static long[] ToTicks(double[] seconds)
    {
        var ticks = new long[seconds.Length];
        for (var i = 0; i < seconds.Length; i++)
        {
            ticks[i] = (long)Math.Round(seconds[i] * TimeSpan.TicksPerSecond);
        }

        return ticks;
    }
}
