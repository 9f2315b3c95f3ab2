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
        metrics.RequestStarted();
        metrics.RequestCompleted(tags, method, status, TimeSpan.FromMilliseconds(1.5));

        var count = Assert.Single(_measurements, m => m.Instrument == GatewayMetrics.RequestsName);
        Assert.Equal(1, count.Value);
        Assert.Equal(new Dictionary<string, object?> { ["route"] = "r1", ["cluster"] = "c1", ["method"] = methodLabel, ["status_class"] = statusClass }, count.Tags);
        var duration = Assert.Single(_measurements, m => m.Instrument == GatewayMetrics.DurationName);
        Assert.Equal(0.0015, duration.Value, 9);
        Assert.Equal(new Dictionary<string, object?> { ["route"] = "r1", ["cluster"] = "c1", ["status_class"] = statusClass }, duration.Tags);
        Assert.Equal(0, _measurements.Where(m => m.Instrument == GatewayMetrics.InFlightName).Sum(m => m.Value));
        Assert.Equal(2, _measurements.Count(m => m.Instrument == GatewayMetrics.InFlightName));
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
