using Microsoft.Extensions.Time.Testing;
using Turnpike.CircuitBreaking;
using Turnpike.Configuration;

namespace Turnpike.Tests.CircuitBreaking;

public sealed class CircuitBreakerTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<(CircuitState From, CircuitState To)> _transitions = [];

    private CircuitBreaker Create(CircuitBreakerConfig options) =>
        new(options, _time, (_, from, to) => { lock (_transitions) { _transitions.Add((from, to)); } });

    private static readonly CircuitBreakerConfig Options = new()
    {
        ConsecutiveFailures = 3,
        BreakDuration = TimeSpan.FromSeconds(30),
        HalfOpenRequests = 2,
        SuccessThreshold = 2,
    };

    [Fact]
    public void OpensAfterConsecutiveFailuresAndASuccessResetsTheCount()
    {
        var breaker = Create(Options);
        breaker.OnResult(failed: true);
        breaker.OnResult(failed: true);
        breaker.OnResult(failed: false); // streak broken
        breaker.OnResult(failed: true);
        breaker.OnResult(failed: true);
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.TryAcquire());

        breaker.OnResult(failed: true);
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());
        Assert.Equal([(CircuitState.Closed, CircuitState.Open)], _transitions);
    }

    [Fact]
    public void StaysOpenForTheBreakDurationThenAdmitsBoundedTrials()
    {
        var breaker = Create(Options);
        Trip(breaker);

        _time.Advance(TimeSpan.FromSeconds(29.9));
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());

        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire()); // two trials at a time

        breaker.OnResult(failed: false); // one trial done: a slot frees up
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void ClosesAfterEnoughSuccessfulTrials()
    {
        var breaker = Create(Options);
        Trip(breaker);
        _time.Advance(Options.BreakDuration);

        Assert.True(breaker.TryAcquire());
        breaker.OnResult(failed: false);
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire());
        breaker.OnResult(failed: false);
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Equal(
            [(CircuitState.Closed, CircuitState.Open), (CircuitState.Open, CircuitState.HalfOpen), (CircuitState.HalfOpen, CircuitState.Closed)],
            _transitions);

        // Closed again with a fresh count: it takes three new failures to open.
        breaker.OnResult(failed: true);
        breaker.OnResult(failed: true);
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void AFailedTrialOpensAgainForAnotherBreak()
    {
        var breaker = Create(Options);
        Trip(breaker);
        _time.Advance(Options.BreakDuration);
        Assert.True(breaker.TryAcquire());
        breaker.OnResult(failed: true);
        Assert.Equal(CircuitState.Open, breaker.State);

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(CircuitState.Open, breaker.State);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
    }

    [Fact]
    public void FailureRatioOpensOnlyAboveTheMinimumThroughput()
    {
        var breaker = Create(new CircuitBreakerConfig
        {
            ConsecutiveFailures = 0,
            FailureRatio = 0.5,
            MinimumThroughput = 10,
            SamplingDuration = TimeSpan.FromSeconds(10),
        });

        // Alternating: never two failures in a row, 50 % failed. Nine attempts are below the minimum.
        for (var i = 0; i < 9; i++)
        {
            breaker.OnResult(failed: i % 2 == 1);
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnResult(failed: false);
        breaker.OnResult(failed: true); // 11 attempts, 5 failures: below 50 %
        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnResult(failed: true); // 12 attempts, 6 failures: 50 %
        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public void FailuresOutsideTheSamplingWindowDoNotCount()
    {
        var breaker = Create(new CircuitBreakerConfig
        {
            ConsecutiveFailures = 0,
            FailureRatio = 0.5,
            MinimumThroughput = 4,
            SamplingDuration = TimeSpan.FromSeconds(10),
        });
        breaker.OnResult(failed: true);
        breaker.OnResult(failed: true);
        breaker.OnResult(failed: false);
        _time.Advance(TimeSpan.FromSeconds(11));
        breaker.OnResult(failed: false);
        breaker.OnResult(failed: false);
        breaker.OnResult(failed: false);
        breaker.OnResult(failed: true); // 1 of 4 in the window
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void DisposedBreakerNeverHalfOpens()
    {
        var breaker = Create(Options);
        Trip(breaker);
        breaker.Dispose();
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(CircuitState.Open, breaker.State);
    }

    private static void Trip(CircuitBreaker breaker)
    {
        for (var i = 0; i < Options.ConsecutiveFailures; i++)
        {
            breaker.OnResult(failed: true);
        }

        Assert.Equal(CircuitState.Open, breaker.State);
    }
}
