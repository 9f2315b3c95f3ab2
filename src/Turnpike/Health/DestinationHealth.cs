using Turnpike.CircuitBreaking;
using Turnpike.Configuration;
using Turnpike.Model;
using Turnpike.Resilience;

namespace Turnpike.Health;

/// <summary>
/// What one destination's health mechanisms know: the active probe verdict, the passive (outlier) ejection and
/// the circuit breaker. The request path only calls <see cref="TryAcquire"/> and <see cref="Report"/>; state
/// changes go to the owning <see cref="ClusterHealth"/>, which recomputes the cluster's eligible destinations.
/// </summary>
internal sealed class DestinationHealth
{
    private readonly ClusterHealth _cluster;
    private readonly PassiveHealthCheckConfig? _passive;
    private readonly FailureRatioWindow? _failureWindow;
    private int _consecutiveFailures;
    private int _activeHealthy = 1;
    private int _probeStreak; // > 0: passing probes in a row, < 0: failing probes in a row
    private int _ejected;
    private int _drained;

    public DestinationHealth(ClusterHealth cluster, DestinationModel destination, CircuitBreaker? breaker)
    {
        _cluster = cluster;
        Destination = destination;
        Breaker = breaker;
        _passive = cluster.Config.HealthCheck.Passive;
        if (_passive?.FailureRate is { } rate)
        {
            _failureWindow = new FailureRatioWindow(cluster.Time, rate.Window, rate.Threshold, rate.MinRequests);
        }
    }

    public DestinationModel Destination { get; }

    public CircuitBreaker? Breaker { get; }

    /// <summary>The active probes' verdict; true until probes say otherwise (and when there are none).</summary>
    public bool ActiveHealthy => Volatile.Read(ref _activeHealthy) == 1;

    /// <summary>Ejected by outlier detection.</summary>
    public bool Ejected => Volatile.Read(ref _ejected) == 1;

    /// <summary>Drained by an operator (<c>POST /admin/destinations/{cluster}/{id}/drain</c>): no new requests until enabled.</summary>
    public bool Drained => Volatile.Read(ref _drained) == 1;

    /// <summary>Ejections so far that count towards the next one's length; decays while the destination behaves.</summary>
    internal int EjectionMultiplier { get; set; }

    internal long ReturnedAt { get; set; }

    /// <summary>Ends the current ejection; owned by <see cref="ClusterHealth"/> under its lock.</summary>
    internal ITimer? EjectionTimer { get; set; }

    /// <summary>Whether the destination may be chosen at all: healthy, not ejected, not drained, breaker not open.</summary>
    public bool Available => ActiveHealthy && !Ejected && !Drained && Breaker?.State != CircuitState.Open;

    /// <summary>Asks the breaker (if any) to admit one request; false while open or when half-open trials are taken.</summary>
    public bool TryAcquire() => Breaker is null || Breaker.TryAcquire();

    /// <summary>Records an attempt's outcome for outlier detection and the breaker.</summary>
    public void Report(bool failed)
    {
        Breaker?.OnResult(failed);
        if (_passive is null)
        {
            return;
        }

        _failureWindow?.AddAttempt();
        if (!failed)
        {
            if (Volatile.Read(ref _consecutiveFailures) != 0)
            {
                Interlocked.Exchange(ref _consecutiveFailures, 0);
            }

            return;
        }

        var inARow = Interlocked.Increment(ref _consecutiveFailures);
        if (_passive.ConsecutiveFailures > 0 && inARow == _passive.ConsecutiveFailures)
        {
            _cluster.Eject(this, $"{inARow} consecutive failures");
            return;
        }

        if (_failureWindow is not null && _failureWindow.AddFailureAndCheck() && !Ejected)
        {
            _cluster.Eject(this, $"{_failureWindow.Failures} of {_failureWindow.Attempts} attempts failed in {_failureWindow.Window.TotalSeconds:0.#}s");
        }
    }

    /// <summary>Records one active probe; returns true when the verdict flipped (after the configured threshold in a row).</summary>
    internal bool RecordProbe(bool passed, ActiveHealthCheckConfig options)
    {
        // Probes of one destination never overlap, so the streak needs no atomics beyond visibility.
        var streak = _probeStreak;
        streak = passed ? Math.Max(streak, 0) + 1 : Math.Min(streak, 0) - 1;
        _probeStreak = streak;
        var healthy = ActiveHealthy;
        if (healthy && streak <= -options.UnhealthyThreshold)
        {
            Volatile.Write(ref _activeHealthy, 0);
            return true;
        }

        if (!healthy && streak >= options.HealthyThreshold)
        {
            Volatile.Write(ref _activeHealthy, 1);
            return true;
        }

        return false;
    }

    internal void SetEjected(bool ejected)
    {
        Volatile.Write(ref _ejected, ejected ? 1 : 0);
        Interlocked.Exchange(ref _consecutiveFailures, 0);
        _failureWindow?.Clear();
    }

    /// <summary>Owned by <see cref="ClusterHealth.SetDrained"/> under its lock.</summary>
    internal void SetDrained(bool drained) => Volatile.Write(ref _drained, drained ? 1 : 0);

    internal void ResetConsecutiveFailures() => Interlocked.Exchange(ref _consecutiveFailures, 0);
}
