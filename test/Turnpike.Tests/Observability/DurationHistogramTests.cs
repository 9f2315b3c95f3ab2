using System.Text;
using Turnpike.Observability;

namespace Turnpike.Tests.Observability;

/// <summary>The gateway's own duration series: Prometheus bucket semantics (a value equal to a bound is in its bucket) and the exporter's text.</summary>
public sealed class DurationHistogramTests
{
    [Fact]
    public void CountsCumulativelyWithBoundsInclusive()
    {
        var histogram = new DurationHistogram(DurationHistogram.RenderLabels(("cluster", "c"), ("route", "r")));
        histogram.Record(TimeSpan.FromTicks(1_000)); // exactly 0.0001 s: in le="0.0001"
        histogram.Record(TimeSpan.FromTicks(1_001)); // just above: in le="0.00025"
        histogram.Record(TimeSpan.FromSeconds(11)); // above every bound: only in +Inf
        var text = new StringBuilder();
        histogram.WriteTo(text, "x_seconds", "otel_scope_name=\"Turnpike\"", openMetrics: false);
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(TurnpikeMeter.DurationBuckets.Length + 3, lines.Length);
        Assert.Equal("x_seconds_bucket{otel_scope_name=\"Turnpike\",cluster=\"c\",route=\"r\",le=\"0.0001\"} 1", lines[0]);
        Assert.Equal("x_seconds_bucket{otel_scope_name=\"Turnpike\",cluster=\"c\",route=\"r\",le=\"0.00025\"} 2", lines[1]);
        Assert.Equal("x_seconds_bucket{otel_scope_name=\"Turnpike\",cluster=\"c\",route=\"r\",le=\"10\"} 2", lines[^4]);
        Assert.Equal("x_seconds_bucket{otel_scope_name=\"Turnpike\",cluster=\"c\",route=\"r\",le=\"+Inf\"} 3", lines[^3]);
        Assert.Equal("x_seconds_sum{otel_scope_name=\"Turnpike\",cluster=\"c\",route=\"r\"} 11.0002001", lines[^2]);
        Assert.Equal("x_seconds_count{otel_scope_name=\"Turnpike\",cluster=\"c\",route=\"r\"} 3", lines[^1]);
    }

    [Fact]
    public void OpenMetricsBoundsAreFloats()
    {
        var histogram = new DurationHistogram("");
        histogram.Record(TimeSpan.FromMilliseconds(3));
        var text = new StringBuilder();
        histogram.WriteTo(text, "x_seconds", "otel_scope_name=\"Turnpike\"", openMetrics: true);

        Assert.Contains("x_seconds_bucket{otel_scope_name=\"Turnpike\",le=\"1.0\"} 1\n", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("x_seconds_bucket{otel_scope_name=\"Turnpike\",le=\"0.0025\"} 0\n", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("x_seconds_bucket{otel_scope_name=\"Turnpike\",le=\"0.005\"} 1\n", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void WritesNothingBeforeTheFirstMeasurementAndEscapesLabelValues()
    {
        var histogram = new DurationHistogram(DurationHistogram.RenderLabels(("route", "a\"b\\c\nd")));
        var text = new StringBuilder();
        histogram.WriteTo(text, "x_seconds", "s=\"t\"", openMetrics: false);
        Assert.Equal(0, text.Length);
        Assert.Equal("route=\"a\\\"b\\\\c\\nd\"", histogram.Labels);
    }
}
