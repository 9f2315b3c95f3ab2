using Microsoft.Extensions.Logging;
using Turnpike.CircuitBreaking;
using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Model;

namespace Turnpike.Health;

/// <summary>
/// Owns one cluster's health state and the <see cref="DestinationSelection"/> requests pick from. Probe verdicts,
/// ejections and breaker transitions are rare, so they take a lock, recompute the eligible set and publish it with
/// one volatile write; the request path only reads <see cref="Selection"/>.
/// </summary>
/// <remarks>
/// Eligible: active-healthy, not ejected, breaker not open, and in the best (lowest) <c>priority</c> tier that has
/// any such destination. When none is eligible the selection is empty and requests get 503 no_healthy_destination.
/// </remarks>
internal sealed partial class ClusterHealth : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Func<DestinationModel[], ILoadBalancingPolicy> _policyFactory;
    private readonly ILogger _logger;
    private readonly DestinationHealth[] _members;
    private readonly ActiveHealthChecker? _active;
    private DestinationSelection _selection;
    private bool _disposed;

    public ClusterHealth(
        ClusterConfig config,
        DestinationModel[] destinations,
        Func<DestinationModel[], ILoadBalancingPolicy> policyFactory,
        TimeProvider time,
        ILogger logger,
        Func<ActiveHealthCheckConfig, IHealthProbe>? probeFactory = null)
    {
        Config = config;
        Time = time;
        _policyFactory = policyFactory;
        _logger = logger;
        _members = new DestinationHealth[destinations.Length];
        var tracked = config.HealthCheck.Active is not null || config.HealthCheck.Passive is not null || config.CircuitBreaker is not null;
        for (var i = 0; i < destinations.Length; i++)
        {
            var destination = destinations[i];
            var breaker = config.CircuitBreaker is { } cb
                ? new CircuitBreaker(cb, time, (b, from, to) => OnBreakerTransition(destination, from, to))
                : null;
            _members[i] = new DestinationHealth(this, destination, breaker);
            if (tracked)
            {
                destination.Health = _members[i];
            }
        }

        if (config.HealthCheck.Active is { } active && probeFactory is not null)
        {
            _active = new ActiveHealthChecker(this, active, probeFactory(active));
        }

        _selection = Compute(out _);
    }

    public ClusterConfig Config { get; }

    public string Id => Config.Id;

    public TimeProvider Time { get; }

    internal DestinationHealth[] Members => _members;

    /// <summary>What requests pick from; replaced as a whole when health changes.</summary>
    public DestinationSelection Selection => Volatile.Read(ref _selection);

    /// <summary>The active checker's loop, for tests; completed when there is none.</summary>
    internal Task ActiveCompletion => _active?.Completion ?? Task.CompletedTask;

    internal ActiveHealthChecker? ActiveChecker => _active;

    public void Start() => _active?.Start();

    internal void OnProbe(DestinationHealth member, bool passed, ActiveHealthCheckConfig options)
    {
        if (!member.RecordProbe(passed, options))
        {
            return;
        }

        if (member.ActiveHealthy)
        {
            LogProbeHealthy(_logger, Id, member.Destination.Id, options.HealthyThreshold);
        }
        else
        {
            LogProbeUnhealthy(_logger, Id, member.Destination.Id, options.UnhealthyThreshold);
        }

        Recompute();
    }

    /// <summary>
    /// For a retry whose serving tier holds only <paramref name="exclude"/>: the available destination of the best
    /// other tier that admits the request, or null. Rare path, so a plain scan.
    /// </summary>
    internal DestinationModel? FallbackFor(DestinationModel exclude)
    {
        DestinationHealth? best = null;
        foreach (var m in _members)
        {
            if (!ReferenceEquals(m.Destination, exclude) && m.Available && (best is null || m.Destination.Priority < best.Destination.Priority))
            {
                best = m;
            }
        }

        return best is not null && best.TryAcquire() ? best.Destination : null;
    }

    /// <summary>
    /// Drains (<paramref name="drained"/> true) or re-enables one destination: a drained destination gets no new
    /// requests, those in flight finish. The flag lives here, so it survives a reload that carries the cluster over (and
    /// <see cref="Model.RuntimeModelBuilder"/> copies it by destination id into a rebuilt cluster).
    /// False when the cluster has no such destination.
    /// </summary>
    internal bool SetDrained(string destinationId, bool drained) => SetDrained(destinationId, drained, log: true);

    /// <summary>The ids of the drained destinations, for a reload that rebuilds the cluster to keep them drained.</summary>
    internal List<string> DrainedIds()
    {
        var ids = new List<string>();
        foreach (var m in _members)
        {
            if (m.Drained)
            {
                ids.Add(m.Destination.Id);
            }
        }

        return ids;
    }

    internal bool SetDrained(string destinationId, bool drained, bool log)
    {
        lock (_lock)
        {
            foreach (var m in _members)
            {
                if (m.Destination.Id == destinationId)
                {
                    if (m.Drained != drained)
                    {
                        m.SetDrained(drained);
                        if (log)
                        {
                            LogDrained(_logger, Id, destinationId, drained ? "drained" : "enabled");
                        }

                        if (!_disposed)
                        {
                            RecomputeLocked();
                        }
                    }

                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Outlier detection's verdict: ejects <paramref name="member"/> unless the max-ejection share is reached.</summary>
    internal void Eject(DestinationHealth member, string reason)
    {
        var passive = Config.HealthCheck.Passive!;
        lock (_lock)
        {
            if (_disposed || member.Ejected)
            {
                return;
            }

            var ejected = 0;
            foreach (var m in _members)
            {
                ejected += m.Ejected ? 1 : 0;
            }

            // As Envoy: at most maxEjectionPercent of the cluster, but one destination may always be ejected.
            var allowed = Math.Max(1, _members.Length * passive.MaxEjectionPercent / 100);
            if (ejected >= allowed)
            {
                member.ResetConsecutiveFailures();
                LogEjectionCapped(_logger, Id, member.Destination.Id, reason, ejected, passive.MaxEjectionPercent);
                return;
            }

            var now = Time.GetTimestamp();
            var duration = NextEjectionTime(member, passive, now);
            member.SetEjected(true);
            member.EjectionTimer?.Dispose();
            member.EjectionTimer = Time.CreateTimer(static s => ((Ejection)s!).End(), new Ejection(this, member), duration, Timeout.InfiniteTimeSpan);
            LogEjected(_logger, Id, member.Destination.Id, reason, duration.TotalSeconds);
            RecomputeLocked();
        }
    }

    /// <summary>
    /// The n-th ejection lasts n × base time, capped; n drops by one for every base time the destination served
    /// since it last came back, so a destination that recovers for good starts again from the base time.
    /// </summary>
    internal TimeSpan NextEjectionTime(DestinationHealth member, PassiveHealthCheckConfig passive, long now)
    {
        if (member.EjectionMultiplier > 0)
        {
            var served = Time.GetElapsedTime(member.ReturnedAt, now);
            var forgiven = (int)Math.Min(int.MaxValue, served.Ticks / passive.BaseEjectionTime.Ticks);
            member.EjectionMultiplier = Math.Max(0, member.EjectionMultiplier - forgiven);
        }

        member.EjectionMultiplier++;
        var ticks = Math.Min(passive.BaseEjectionTime.Ticks * (long)member.EjectionMultiplier, passive.MaxEjectionTime.Ticks);
        return TimeSpan.FromTicks(ticks);
    }

    private void EndEjection(DestinationHealth member)
    {
        lock (_lock)
        {
            if (_disposed || !member.Ejected)
            {
                return;
            }

            member.SetEjected(false);
            member.ReturnedAt = Time.GetTimestamp();
            member.EjectionTimer?.Dispose();
            member.EjectionTimer = null;
            LogReturned(_logger, Id, member.Destination.Id);
            RecomputeLocked();
        }
    }

    private void OnBreakerTransition(DestinationModel destination, CircuitState from, CircuitState to)
    {
        LogBreaker(_logger, Id, destination.Id, from, to);
        // Open and half-open change eligibility; half-open → closed does not, but costs nothing to recompute.
        Recompute();
    }

    private void Recompute()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                RecomputeLocked();
            }
        }
    }

    private void RecomputeLocked()
    {
        var next = Compute(out var changed);
        if (!changed)
        {
            return;
        }

        Volatile.Write(ref _selection, next);
        if (next.Eligible.Length == 0)
        {
            LogNoneEligible(_logger, Id);
        }
    }

    private DestinationSelection Compute(out bool changed)
    {
        var bestPriority = int.MaxValue;
        foreach (var m in _members)
        {
            if (m.Available && m.Destination.Priority < bestPriority)
            {
                bestPriority = m.Destination.Priority;
            }
        }

        var eligible = new List<DestinationModel>(_members.Length);
        foreach (var m in _members)
        {
            if (m.Available && m.Destination.Priority == bestPriority)
            {
                eligible.Add(m.Destination);
            }
        }

        var current = Volatile.Read(ref _selection);
        if (current is not null && SameMembers(current.Eligible, eligible))
        {
            changed = false;
            return current;
        }

        changed = true;
        var array = eligible.ToArray();
        return new DestinationSelection(array, _policyFactory(array));
    }

    private static bool SameMembers(DestinationModel[] current, List<DestinationModel> next)
    {
        if (current.Length != next.Count)
        {
            return false;
        }

        for (var i = 0; i < current.Length; i++)
        {
            if (!ReferenceEquals(current[i], next[i]))
            {
                return false;
            }
        }

        return true;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var m in _members)
            {
                m.EjectionTimer?.Dispose();
                m.EjectionTimer = null;
                m.Breaker?.Dispose();
            }
        }

        _active?.Dispose();
    }

    private sealed class Ejection(ClusterHealth cluster, DestinationHealth member)
    {
        public void End() => cluster.EndEjection(member);
    }

    [LoggerMessage(30, LogLevel.Warning, "Cluster {Cluster}: destination {Destination} is unhealthy after {Count} failed probes in a row")]
    private static partial void LogProbeUnhealthy(ILogger logger, string cluster, string destination, int count);

    [LoggerMessage(31, LogLevel.Information, "Cluster {Cluster}: destination {Destination} is healthy again after {Count} passing probes in a row")]
    private static partial void LogProbeHealthy(ILogger logger, string cluster, string destination, int count);

    [LoggerMessage(32, LogLevel.Warning, "Cluster {Cluster}: destination {Destination} ejected for {Seconds}s ({Reason})")]
    private static partial void LogEjected(ILogger logger, string cluster, string destination, string reason, double seconds);

    [LoggerMessage(33, LogLevel.Information, "Cluster {Cluster}: destination {Destination} returns from ejection")]
    private static partial void LogReturned(ILogger logger, string cluster, string destination);

    [LoggerMessage(34, LogLevel.Warning, "Cluster {Cluster}: destination {Destination} not ejected ({Reason}): {Ejected} already out, the max-ejection share is {Percent}%")]
    private static partial void LogEjectionCapped(ILogger logger, string cluster, string destination, string reason, int ejected, int percent);

    [LoggerMessage(35, LogLevel.Warning, "Cluster {Cluster}: circuit breaker of destination {Destination} went from {From} to {To}")]
    private static partial void LogBreaker(ILogger logger, string cluster, string destination, CircuitState from, CircuitState to);

    [LoggerMessage(37, LogLevel.Warning, "Cluster {Cluster}: destination {Destination} {State} by the admin API")]
    private static partial void LogDrained(ILogger logger, string cluster, string destination, string state);

    [LoggerMessage(36, LogLevel.Error, "Cluster {Cluster}: no destination is eligible; requests get 503 no_healthy_destination")]
    private static partial void LogNoneEligible(ILogger logger, string cluster);
}
