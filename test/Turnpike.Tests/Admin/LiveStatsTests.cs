using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Admin.Dashboard;

namespace Turnpike.Tests.Admin;

public sealed class LiveStatsTests : IDisposable
{
    private readonly object _scope = new();
    private readonly Meter _meter;
    private readonly Histogram<double> _duration;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-30T12:00:00Z"));
    private long _rejections;

    public LiveStatsTests()
    {
        _meter = new Meter(new MeterOptions(LiveStats.MeterName) { Scope = _scope });
        _duration = _meter.CreateHistogram<double>(LiveStats.DurationInstrument, "s");
    }

    public void Dispose() => _meter.Dispose();

    private LiveStats Create(int seconds = 300)
    {
        var stats = new LiveStats(_scope, () => _rejections, _time, seconds);
        stats.Start(timer: false);
        return stats;
    }

    private void Request(double seconds, string statusClass) =>
        _duration.Record(seconds, new KeyValuePair<string, object?>("route", "r"), new("cluster", "c"), new("status_class", statusClass));

    [Fact]
    public void OneSecondSummarizesCountStatusMixErrorRateAndQuantiles()
    {
        using var stats = Create();
        for (var i = 1; i <= 100; i++)
        {
            Request(i / 1000.0, i <= 90 ? "2xx" : i <= 95 ? "4xx" : "5xx");
        }

        _rejections = 7;
        _time.Advance(TimeSpan.FromSeconds(1));
        stats.Tick();

        var s = Assert.Single(stats.History());
        Assert.Equal(100, s.Requests);
        Assert.Equal([0, 90, 0, 5, 5], s.Status);
        Assert.Equal(0.05, s.ErrorRate);
        Assert.Equal(7, s.RateLimited);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeSeconds(), s.Time);
        Assert.InRange(s.P50Ms, 50 * 0.875, 50 * 1.125);
        Assert.InRange(s.P95Ms, 95 * 0.875, 95 * 1.125);
        Assert.InRange(s.P99Ms, 99 * 0.875, 99 * 1.125);
        Assert.Same(s, stats.Latest);
    }

    [Fact]
    public void EachSecondStartsEmptyAndRateLimitRejectionsAreDeltas()
    {
        using var stats = Create();
        Request(0.001, "2xx");
        _rejections = 3;
        stats.Tick();
        _rejections = 5;
        stats.Tick();
        Request(0.002, "5xx");
        Request(0.002, "5xx");
        stats.Tick();

        var h = stats.History();
        Assert.Equal([1L, 0L, 2L], h.Select(s => s.Requests));
        Assert.Equal([3L, 2L, 0L], h.Select(s => s.RateLimited));
        Assert.Equal(0, h[1].P99Ms);
        Assert.Equal(1.0, h[2].ErrorRate);
    }

    [Fact]
    public void HistoryKeepsTheLastSecondsOldestFirst()
    {
        using var stats = Create(seconds: 5);
        for (var i = 1; i <= 8; i++)
        {
            for (var j = 0; j < i; j++)
            {
                Request(0.001, "2xx");
            }

            stats.Tick();
        }

        Assert.Equal([4L, 5L, 6L, 7L, 8L], stats.History().Select(s => s.Requests));
    }

    [Fact]
    public void ListensOnlyToItsOwnGatewaysMeterAndInstrument()
    {
        using var stats = Create();
        using var other = new Meter(new MeterOptions(LiveStats.MeterName) { Scope = new object() });
        other.CreateHistogram<double>(LiveStats.DurationInstrument).Record(0.001, new KeyValuePair<string, object?>("status_class", "2xx"));
        _meter.CreateHistogram<double>("turnpike.upstream.duration").Record(0.001, new KeyValuePair<string, object?>("status_class", "2xx"));
        Request(0.001, "2xx");
        stats.Tick();

        Assert.Equal(1, Assert.Single(stats.History()).Requests);
    }

    [Fact]
    public async Task WaitersWakeOnTickAndEndWhenStopped()
    {
        var stats = Create();
        var wait = stats.WaitForTickAsync(CancellationToken.None);
        Assert.False(wait.IsCompleted);
        stats.Tick();
        Assert.True(await wait);

        var stopped = stats.WaitForTickAsync(CancellationToken.None);
        stats.Dispose();
        Assert.False(await stopped);
        Assert.False(await stats.WaitForTickAsync(CancellationToken.None));

        // After Dispose nothing is listened to or added any more.
        Request(0.001, "2xx");
        stats.Tick();
        Assert.Equal(0, Assert.Single(stats.History()).Requests);
    }

    [Fact]
    public async Task CancelledWaitReturnsFalse()
    {
        using var stats = Create();
        using var cts = new CancellationTokenSource();
        var wait = stats.WaitForTickAsync(cts.Token);
        await cts.CancelAsync();
        Assert.False(await wait);
    }

    [Fact]
    public void TimerClosesASecondOnVirtualTime()
    {
        var stats = new LiveStats(_scope, () => 0, _time);
        stats.Start();
        using (stats)
        {
            Request(0.001, "2xx");
            _time.Advance(TimeSpan.FromSeconds(1));
            Request(0.001, "3xx");
            Request(0.001, "3xx");
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal([1L, 2L], stats.History().Select(s => s.Requests));
        }
    }

    [Theory]
    [InlineData(0.0000005)]
    [InlineData(0.000003)]
    [InlineData(0.00001)]
    [InlineData(0.000123)]
    [InlineData(0.0047)]
    [InlineData(0.25)]
    [InlineData(3.7)]
    [InlineData(120)]
    public void HistogramBucketHoldsTheValueWithin12Point5Percent(double seconds)
    {
        var index = LatencyHistogram.IndexOf(seconds);
        var (lower, width) = LatencyHistogram.BoundsOf(index);
        var us = seconds * 1e6;
        if (us >= 1)
        {
            Assert.InRange(us, lower, lower + width);
            Assert.True(width / lower <= 0.125 || lower < 8, $"width {width} at {lower}");
        }
        else
        {
            Assert.Equal(0, index);
        }
    }

    [Fact]
    public void HistogramIndexIsMonotonicAndBoundsAreContiguous()
    {
        var last = -1;
        for (var us = 1.0; us < 1e9; us *= 1.01)
        {
            var index = LatencyHistogram.IndexOf(us / 1e6);
            Assert.True(index >= last);
            last = index;
        }

        for (var i = 0; i < LatencyHistogram.BucketCount - 1; i++)
        {
            var (lower, width) = LatencyHistogram.BoundsOf(i);
            Assert.Equal(lower + width, LatencyHistogram.BoundsOf(i + 1).Lower);
        }

        Assert.Equal(LatencyHistogram.BucketCount - 1, LatencyHistogram.IndexOf(1e9));
        Assert.Equal(0, LatencyHistogram.IndexOf(double.NaN));
        Assert.Equal(0, LatencyHistogram.IndexOf(-1));
    }
}
