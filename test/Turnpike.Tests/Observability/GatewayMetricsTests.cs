using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Turnpike.Forwarding;
using Turnpike.Observability;

namespace Turnpike.Tests.Observability;

/// <summary>What the request instruments record, seen through a MeterListener scoped to one meter factory.</summary>
public sealed class GatewayMetricsTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = [];

    public GatewayMetricsTests()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    private IMeterFactory Factory => _services.GetRequiredService<IMeterFactory>();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dict = new Dictionary<string, object?>();
        foreach (var t in tags)
        {
            dict[t.Key] = t.Value;
        }

        lock (_measurements)
        {
            _measurements.Add((instrument.Name, value, dict));
        }
    }

    [Theory]
    [InlineData("GET", 200, "GET", "2xx")]
    [InlineData("post", 404, "POST", "4xx")]
    [InlineData("PURGE", 503, "OTHER", "5xx")]
    [InlineData("PATCH", 101, "PATCH", "1xx")]
    [InlineData("GET", 0, "GET", "5xx")]
    public void OneRequestIsOneCountOneDurationAndInFlightBackToZero(string method, int status, string methodLabel, string statusClass)
    {
        var metrics = new GatewayMetrics(Factory);
        Assert.True(metrics.Enabled);
        var tags = new RequestMetricTags("r1", "c1");
        _listener.RecordObservableInstruments();
        Assert.Empty(_measurements); // no series before the first request
        metrics.RequestStarted();
        _listener.RecordObservableInstruments();
        Assert.Equal(1, Assert.Single(_measurements, m => m.Instrument == GatewayMetrics.InFlightName).Value);
        Assert.DoesNotContain(_measurements, m => m.Instrument == GatewayMetrics.RequestsName);
        _measurements.Clear();
        metrics.RequestCompleted(tags, method, status, TimeSpan.FromMilliseconds(1.5));
        _listener.RecordObservableInstruments();

        var count = Assert.Single(_measurements, m => m.Instrument == GatewayMetrics.RequestsName);
        Assert.Equal(1, count.Value);
        Assert.Equal(new Dictionary<string, object?> { ["route"] = "r1", ["cluster"] = "c1", ["method"] = methodLabel, ["status_class"] = statusClass }, count.Tags);
        var duration = Assert.Single(_measurements, m => m.Instrument == GatewayMetrics.DurationName);
        Assert.Equal(0.0015, duration.Value, 9);
        Assert.Equal(new Dictionary<string, object?> { ["route"] = "r1", ["cluster"] = "c1", ["status_class"] = statusClass }, duration.Tags);
        Assert.Equal(0, Assert.Single(_measurements, m => m.Instrument == GatewayMetrics.InFlightName).Value);
    }

    [Fact]
    public void CountsAreCumulativeAndContinueAcrossModelGenerationsOfARoute()
    {
        var metrics = new GatewayMetrics(Factory);
        var before = new RequestMetricTags("r", "c");
        var afterReload = new RequestMetricTags("r", "c");
        var other = new RequestMetricTags("r", "c2");
        foreach (var tags in new[] { before, before, afterReload, other })
        {
            metrics.RequestStarted();
            metrics.RequestCompleted(tags, "GET", 200, TimeSpan.FromMilliseconds(1));
        }

        metrics.RequestStarted();
        metrics.RequestCompleted(null, "GET", 404, TimeSpan.FromMilliseconds(1)); // no route
        metrics.RequestStarted();
        metrics.RequestCompleted(RequestMetricTags.Unmatched, "GET", 404, TimeSpan.FromMilliseconds(1));
        _measurements.Clear();
        _listener.RecordObservableInstruments();

        var counts = _measurements.Where(m => m.Instrument == GatewayMetrics.RequestsName).ToList();
        Assert.Equal(3, counts.Count);
        Assert.Equal(3, Assert.Single(counts, m => (string?)m.Tags["cluster"] == "c").Value);
        Assert.Equal(1, Assert.Single(counts, m => (string?)m.Tags["cluster"] == "c2").Value);
        var unmatched = Assert.Single(counts, m => (string?)m.Tags["route"] == "(none)");
        Assert.Equal(2, unmatched.Value);
        Assert.Equal("4xx", unmatched.Tags["status_class"]);

        // A second gateway in the same process (same route ids) counts on its own.
        var second = new GatewayMetrics(Factory);
        second.RequestStarted();
        second.RequestCompleted(new RequestMetricTags("r", "c"), "GET", 200, TimeSpan.FromMilliseconds(1));
        second.RequestStarted();
        second.RequestCompleted(RequestMetricTags.Unmatched, "GET", 404, TimeSpan.FromMilliseconds(1));
        _measurements.Clear();
        _listener.RecordObservableInstruments();
        // first gateway: (r, c) 3, (r, c2) 1, no route 2; second: (r, c) 1, no route 1.
        Assert.Equal([3.0, 2, 1, 1, 1], _measurements.Where(m => m.Instrument == GatewayMetrics.RequestsName).Select(m => m.Value).OrderDescending());
    }

    [Fact]
    public void TagArraysAreBuiltOncePerMethodAndStatusClass()
    {
        var tags = new RequestMetricTags("r", "c");
        Assert.Same(tags.ForRequests(0, 1), tags.ForRequests(0, 1));
        Assert.NotSame(tags.ForRequests(0, 1), tags.ForRequests(2, 1));
        Assert.Same(tags.ForDuration(3), tags.ForDuration(3));
        Assert.Equal("(none)", RequestMetricTags.Unmatched.Route);
        Assert.Equal("(none)", RequestMetricTags.Unmatched.Cluster);
    }

    [Fact]
    public void DisabledWithoutAListener()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new GatewayMetrics(services.GetRequiredService<IMeterFactory>());
        Assert.False(metrics.Enabled);
    }

    [Theory]
    [InlineData((int)UpstreamOutcome.Success, 200, "success")]
    [InlineData((int)UpstreamOutcome.Success, 503, "http_5xx")]
    [InlineData((int)UpstreamOutcome.ConnectFailed, 0, "connect_failed")]
    [InlineData((int)UpstreamOutcome.ConnectTimeout, 0, "connect_timeout")]
    [InlineData((int)UpstreamOutcome.Timeout, 0, "timeout")]
    [InlineData((int)UpstreamOutcome.Refused, 0, "refused")]
    [InlineData((int)UpstreamOutcome.UpstreamError, 0, "upstream_error")]
    [InlineData((int)UpstreamOutcome.ClientError, 0, "client_aborted")]
    public void UpstreamAttemptOutcomes(int outcomeValue, int status, string label)
    {
        var outcome = (UpstreamOutcome)outcomeValue;
        var metrics = new UpstreamMetrics(Factory);
        metrics.Attempt("c", "d", new UpstreamResult(outcome, GatewayErrorCode.None, null, status), TimeSpan.FromMilliseconds(2));
        _listener.RecordObservableInstruments();
        var attempt = Assert.Single(_measurements, m => m.Instrument == "turnpike.upstream.requests");
        Assert.Equal(new Dictionary<string, object?> { ["cluster"] = "c", ["destination"] = "d", ["outcome"] = label }, attempt.Tags);
        Assert.Single(_measurements, m => m.Instrument == "turnpike.upstream.request.duration");
        var timeouts = _measurements.Where(m => m.Instrument == "turnpike.upstream.timeouts").ToList();
        Assert.Equal(outcome is UpstreamOutcome.Timeout or UpstreamOutcome.ConnectTimeout ? 1 : 0, timeouts.Count);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }
}
