using Microsoft.Extensions.Time.Testing;
using Turnpike.Concurrency;
using Turnpike.Configuration;

namespace Turnpike.Tests.Concurrency;

public sealed class AdaptiveConcurrencyLimiterTests
{
    private static readonly AdaptiveConcurrencyConfig Gradient = new()
    {
        InitialLimit = 10, MinLimit = 2, MaxLimit = 50, SampleWindow = TimeSpan.FromMilliseconds(100), MinSamples = 5,
        MinRttSamples = 5, Buffer = 0.25, MinRttInterval = TimeSpan.FromSeconds(30),
    };

    private static readonly AdaptiveConcurrencyConfig Aimd = Gradient with
    {
        Algorithm = ConcurrencyAlgorithm.Aimd, LatencyThreshold = TimeSpan.FromMilliseconds(50), BackoffRatio = 0.5, Increase = 3,
    };

    /// <summary>
    /// Runs rounds of up to <paramref name="concurrency"/> attempts that each take <paramref name="latencyMs"/> until
    /// the limiter closes one window; returns the limit it then publishes. Attempts that end after that are ignored.
    /// </summary>
    private static int Window(AdaptiveConcurrencyLimiter limiter, FakeTimeProvider time, double latencyMs, int concurrency = int.MaxValue, ConcurrencyOutcome outcome = ConcurrencyOutcome.Success)
    {
        var before = limiter.Windows;
        for (var round = 0; round < 100 && limiter.Windows == before; round++)
        {
            var started = time.GetTimestamp();
            var admitted = 0;
            while (admitted < Math.Min(concurrency, 1000) && limiter.TryAcquire())
            {
                admitted++;
            }

            time.Advance(TimeSpan.FromMilliseconds(50));
            for (var i = 0; i < admitted; i++)
            {
                // Attempts of this round that end after the window closed are not counted: each call is one clean window.
                limiter.Release(started, TimeSpan.FromMilliseconds(latencyMs), limiter.Windows == before ? outcome : ConcurrencyOutcome.Ignore);
            }
        }

        Assert.NotEqual(before, limiter.Windows);
        Assert.Equal(0, limiter.InFlight);
        return limiter.Limit;
    }

    [Fact]
    public void AdmitsUpToTheLimitAndShedsTheRest()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Aimd with { InitialLimit = 3 }, time);
        Assert.True(limiter.TryAcquire());
        Assert.True(limiter.TryAcquire());
        Assert.True(limiter.TryAcquire());
        Assert.False(limiter.TryAcquire());
        Assert.Equal((3, 1, 3L), ((int)limiter.InFlight, (int)limiter.Shed, limiter.Admitted));

        limiter.Release(time.GetTimestamp(), TimeSpan.FromMilliseconds(1), ConcurrencyOutcome.Ignore);
        Assert.True(limiter.TryAcquire());
    }

    [Fact]
    public void ConcurrentAdmissionNeverExceedsTheLimit()
    {
        var limiter = new AdaptiveConcurrencyLimiter(Aimd with { InitialLimit = 8 }, new FakeTimeProvider());
        var current = 0;
        var peak = 0;
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 50_000; i++)
            {
                if (limiter.TryAcquire())
                {
                    var now = Interlocked.Increment(ref current);
                    InterlockedMax(ref peak, now);
                    Interlocked.Decrement(ref current);
                    limiter.Release(0, TimeSpan.Zero, ConcurrencyOutcome.Ignore);
                }
            }
        });

        Assert.InRange(peak, 1, 8);
        Assert.Equal(0, limiter.InFlight);
        Assert.Equal(200_000, limiter.Admitted + limiter.Shed);
    }

    [Fact]
    public void GradientMeasuresMinRttAtTheMinimumThenGrowsUpToTheMaximum()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Gradient, time);
        Assert.True(limiter.Measuring);
        Assert.Equal(2, limiter.Limit);

        Assert.Equal(10, Window(limiter, time, 10));
        Assert.Equal(10.0, limiter.MinRttMs);
        Assert.False(limiter.Measuring);

        var limits = new List<int>();
        for (var i = 0; i < 8; i++)
        {
            limits.Add(Window(limiter, time, 10));
        }

        Assert.True(limits[0] > 10, string.Join(",", limits));
        Assert.Equal(50, limits[^1]);
        Assert.All(limits, l => Assert.InRange(l, 11, 50));
    }

    [Fact]
    public void GradientShrinksWhenLatencyRisesAndRecoversWhenItFalls()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Gradient with { InitialLimit = 40 }, time);
        Window(limiter, time, 10); // minRTT 10 ms

        var rising = new List<int>();
        for (var i = 0; i < 8; i++)
        {
            rising.Add(Window(limiter, time, 60));
        }

        Assert.True(rising[0] < 40, string.Join(",", rising));
        Assert.True(rising[^1] < rising[0]);
        Assert.All(rising, l => Assert.True(l >= 2));
        Assert.Equal(2, Enumerable.Range(0, 10).Select(_ => Window(limiter, time, 500)).ToList()[^1]);

        var falling = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            falling.Add(Window(limiter, time, 10));
        }

        Assert.True(falling[^1] > 20, string.Join(",", falling));
    }

    [Fact]
    public void GradientDoesNotGrowWhileTheLimitIsNotInUse()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Gradient with { InitialLimit = 20 }, time);
        Window(limiter, time, 10);
        Assert.Equal(20, Window(limiter, time, 10, concurrency: 5));
    }

    [Fact]
    public void GradientMeasuresMinRttAgainAfterTheIntervalAndResumesItsLimit()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Gradient with { MinRttInterval = TimeSpan.FromSeconds(1) }, time);
        Window(limiter, time, 10);
        for (var i = 0; i < 100 && !limiter.Measuring; i++)
        {
            var steady = Window(limiter, time, 10, concurrency: 3); // in use below half: steady
            Assert.Equal(limiter.Measuring ? 2 : 10, steady);
        }

        Assert.True(limiter.Measuring);
        Assert.Equal(2, limiter.Limit);
        Window(limiter, time, 20); // the backend got slower at any concurrency
        Assert.Equal(20.0, limiter.MinRttMs);
        Assert.False(limiter.Measuring);
        Assert.Equal(10, limiter.Limit);
    }

    [Fact]
    public void MinRttIsTheMedianSoColdStartAttemptsDoNotSetIt()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Gradient, time);
        double[] latencies = [900, 400, 10, 12, 11]; // the first two paid for connects and a cold JIT
        foreach (var ms in latencies)
        {
            Assert.True(limiter.TryAcquire());
            time.Advance(TimeSpan.FromMilliseconds(ms));
            limiter.Release(time.GetTimestamp() - 1, TimeSpan.FromMilliseconds(ms), ConcurrencyOutcome.Success);
        }

        Assert.False(limiter.Measuring);
        Assert.Equal(12.0, limiter.MinRttMs);
        Assert.Equal(266.6, limiter.SampleRttMs, 0.1); // the window's average, as before
    }

    [Fact]
    public void MeasurementIgnoresAttemptsAdmittedBeforeIt()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Gradient, time);
        var early = time.GetTimestamp() - 1;
        for (var i = 0; i < 10; i++)
        {
            Assert.True(limiter.TryAcquire());
            limiter.Release(early, TimeSpan.FromSeconds(1), ConcurrencyOutcome.Success);
        }

        Assert.True(limiter.Measuring);
        Assert.Equal(0, limiter.Windows);
    }

    [Fact]
    public void AimdAddsOnGoodWindowsAndBacksOffOnSlowOnesAndFailures()
    {
        var time = new FakeTimeProvider();
        var limiter = new AdaptiveConcurrencyLimiter(Aimd, time);
        Assert.Equal(10, limiter.Limit);
        Assert.False(limiter.Measuring);
        Assert.Null(limiter.MinRttMs);

        Assert.Equal(13, Window(limiter, time, 10));
        Assert.Equal(16, Window(limiter, time, 10));
        Assert.Equal(8, Window(limiter, time, 80)); // over the 50 ms threshold: × 0.5
        Assert.Equal(11, Window(limiter, time, 10));
        Assert.Equal(5, Window(limiter, time, 10, outcome: ConcurrencyOutcome.Failure));
        Assert.Equal(2, Enumerable.Range(0, 5).Select(_ => Window(limiter, time, 10, outcome: ConcurrencyOutcome.Failure)).ToList()[^1]);
        var growth = Enumerable.Range(0, 30).Select(_ => Window(limiter, time, 10)).ToList();
        Assert.True(growth[^1] == 50, string.Join(",", growth));
        Assert.Equal(50, Window(limiter, time, 10, concurrency: 10)); // unused: neither grows nor shrinks
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) is var now && now != seen)
        {
            seen = now;
        }
    }
}
