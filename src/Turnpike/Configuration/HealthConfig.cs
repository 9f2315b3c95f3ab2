namespace Turnpike.Configuration;

/// <summary>How a cluster decides which destinations may take traffic. Each part is off unless configured.</summary>
public sealed record HealthCheckConfig
{
    public ActiveHealthCheckConfig? Active { get; init; }
    public PassiveHealthCheckConfig? Passive { get; init; }
}

/// <summary>Periodic HTTP probes sent to every destination, off the request path.</summary>
public sealed record ActiveHealthCheckConfig
{
    /// <summary>Probe path; a destination's own <c>health</c> path wins.</summary>
    public string Path { get; init; } = "/healthz";
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Inclusive range of statuses that count as healthy.</summary>
    public int ExpectedStatusMin { get; init; } = 200;
    public int ExpectedStatusMax { get; init; } = 399;
    /// <summary>Consecutive passing probes that bring an unhealthy destination back.</summary>
    public int HealthyThreshold { get; init; } = 2;
    /// <summary>Consecutive failing probes that take a healthy destination out.</summary>
    public int UnhealthyThreshold { get; init; } = 3;
}

/// <summary>Outlier detection from real traffic: failing destinations are ejected for a growing time.</summary>
public sealed record PassiveHealthCheckConfig
{
    /// <summary>Consecutive failed attempts (connect errors, timeouts, resets, 5xx) that eject a destination; 0 turns this trigger off.</summary>
    public int ConsecutiveFailures { get; init; } = 5;
    /// <summary>Optional second trigger: failure ratio over a window with a minimum number of attempts.</summary>
    public FailureRateConfig? FailureRate { get; init; }
    /// <summary>First ejection's length; the n-th consecutive ejection lasts n × this, up to <see cref="MaxEjectionTime"/>.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan MaxEjectionTime { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>At most this share of the cluster is ejected at once (at least one destination may always be).</summary>
    public int MaxEjectionPercent { get; init; } = 50;
}

public sealed record FailureRateConfig
{
    /// <summary>Failure share (0..1] at or above which the trigger fires.</summary>
    public double Threshold { get; init; } = 0.5;
    /// <summary>Attempts needed in the window before the ratio is trusted.</summary>
    public int MinRequests { get; init; } = 20;
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>A per-destination circuit breaker: closed → open → half-open → closed.</summary>
public sealed record CircuitBreakerConfig
{
    /// <summary>Consecutive failures that open the breaker; 0 turns this trigger off.</summary>
    public int ConsecutiveFailures { get; init; } = 5;
    /// <summary>Optional: failure ratio over <see cref="SamplingDuration"/> that opens the breaker once <see cref="MinimumThroughput"/> attempts were seen.</summary>
    public double? FailureRatio { get; init; }
    public int MinimumThroughput { get; init; } = 20;
    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long the breaker stays open before letting trial requests through.</summary>
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Trial requests admitted at once while half-open.</summary>
    public int HalfOpenRequests { get; init; } = 1;
    /// <summary>Successful trials that close the breaker again.</summary>
    public int SuccessThreshold { get; init; } = 2;
}
