using Turnpike.Configuration;
using Turnpike.Resilience;

namespace Turnpike.CircuitBreaking;

/// <summary>
/// One destination's circuit breaker: closed → open after <see cref="CircuitBreakerConfig.ConsecutiveFailures"/>
/// failures in a row (or a failure ratio over a sampling window) → half-open after the break duration, admitting at
/// most <see cref="CircuitBreakerConfig.HalfOpenRequests"/> trial requests at a time → closed after
/// <see cref="CircuitBreakerConfig.SuccessThreshold"/> successful trials, or open again on a failed one.
/// </summary>
/// <remarks>
/// Lock-free rather than Polly's <c>CircuitBreakerStrategy</c>: Polly's breaker wraps a callback (the request would
/// run inside <c>ExecuteAsync</c>), lets exactly one trial through while half-open and closes on its first success,
/// and guards its state with a lock. Turnpike needs to ask "may this destination take a request?" before choosing
/// it, bounded concurrent trials, M successes to close, and no lock on the request path. Every transition is one
/// compare-exchange on <see cref="State"/>; the thread that wins it does the transition's side effects.
/// </remarks>
internal sealed class CircuitBreaker : IDisposable
{
    private readonly CircuitBreakerConfig _options;
    private readonly TimeProvider _time;
    private readonly FailureRatioWindow? _window;
    private readonly Action<CircuitBreaker, CircuitState, CircuitState> _onTransition;
    private int _state;
    private int _consecutiveFailures;
    private int _trialsInFlight;
    private int _trialSuccesses;
    private readonly Lock _timerLock = new();
    private ITimer? _timer;
    private bool _disposed;

    public CircuitBreaker(CircuitBreakerConfig options, TimeProvider time, Action<CircuitBreaker, CircuitState, CircuitState> onTransition)
    {
        _options = options;
        _time = time;
        _onTransition = onTransition;
        if (options.FailureRatio is { } ratio)
        {
            _window = new FailureRatioWindow(time, options.SamplingDuration, ratio, options.MinimumThroughput);
        }
    }

    public CircuitState State => (CircuitState)Volatile.Read(ref _state);

    /// <summary>Whether a request may go to the destination now. A true answer while half-open takes a trial slot.</summary>
    public bool TryAcquire()
    {
        var state = (CircuitState)Volatile.Read(ref _state);
        if (state == CircuitState.Closed)
        {
            return true;
        }

        if (state == CircuitState.Open)
        {
            return false;
        }

        if (Interlocked.Increment(ref _trialsInFlight) <= _options.HalfOpenRequests)
        {
            return true;
        }

        Interlocked.Decrement(ref _trialsInFlight);
        return false;
    }

    /// <summary>Records how an attempt to the destination ended.</summary>
    public void OnResult(bool failed)
    {
        switch ((CircuitState)Volatile.Read(ref _state))
        {
            case CircuitState.Closed:
                OnClosedResult(failed);
                break;
            case CircuitState.HalfOpen:
                ReleaseTrial();
                if (failed)
                {
                    Transition(CircuitState.HalfOpen, CircuitState.Open);
                }
                else if (Interlocked.Increment(ref _trialSuccesses) >= _options.SuccessThreshold)
                {
                    Transition(CircuitState.HalfOpen, CircuitState.Closed);
                }

                break;
            default:
                // Open: answers of requests sent before the breaker opened say nothing new.
                break;
        }
    }

    private void OnClosedResult(bool failed)
    {
        if (!failed)
        {
            if (Volatile.Read(ref _consecutiveFailures) != 0)
            {
                Interlocked.Exchange(ref _consecutiveFailures, 0);
            }

            _window?.AddAttempt();
            return;
        }

        var inARow = Interlocked.Increment(ref _consecutiveFailures);
        if (_options.ConsecutiveFailures > 0 && inARow >= _options.ConsecutiveFailures)
        {
            Transition(CircuitState.Closed, CircuitState.Open);
            return;
        }

        if (_window is not null)
        {
            _window.AddAttempt();
            if (_window.AddFailureAndCheck())
            {
                Transition(CircuitState.Closed, CircuitState.Open);
            }
        }
    }

    private void ReleaseTrial()
    {
        // Never below zero: results of requests admitted while closed also arrive here.
        var current = Volatile.Read(ref _trialsInFlight);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _trialsInFlight, current - 1, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void Transition(CircuitState from, CircuitState to)
    {
        if (Interlocked.CompareExchange(ref _state, (int)to, (int)from) != (int)from)
        {
            return; // another thread made this (or another) transition first
        }

        switch (to)
        {
            case CircuitState.Open:
                Interlocked.Exchange(ref _trialsInFlight, 0);
                ScheduleHalfOpen();
                break;
            case CircuitState.HalfOpen:
                Interlocked.Exchange(ref _trialSuccesses, 0);
                Interlocked.Exchange(ref _trialsInFlight, 0);
                break;
            case CircuitState.Closed:
                Interlocked.Exchange(ref _consecutiveFailures, 0);
                _window?.Clear();
                break;
        }

        _onTransition(this, from, to);
    }

    private void ScheduleHalfOpen()
    {
        lock (_timerLock)
        {
            // Transitions are rare; the lock only orders timer replacement against Dispose.
            if (_disposed)
            {
                return;
            }

            _timer?.Dispose();
            _timer = _time.CreateTimer(static s => ((CircuitBreaker)s!).Transition(CircuitState.Open, CircuitState.HalfOpen), this, _options.BreakDuration, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        lock (_timerLock)
        {
            _disposed = true;
            _timer?.Dispose();
            _timer = null;
        }
    }
}
