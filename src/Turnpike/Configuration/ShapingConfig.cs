namespace Turnpike.Configuration;

/// <summary>Whose bytes share one bucket of a route's <c>bandwidth</c> policy.</summary>
public enum BandwidthPartition
{
    /// <summary>One bucket for the whole route: concurrent downloads share the rate.</summary>
    None,
    /// <summary>One bucket per client IP address.</summary>
    ClientIp,
    /// <summary>One bucket per value of a request header (requests without it share the route's bucket).</summary>
    Header,
}

/// <summary>
/// A route's <c>bandwidth</c> block: response bodies are sent at most at <see cref="BytesPerSecond"/> after an
/// initial <see cref="Burst"/> (token bucket), as nginx's <c>limit_rate</c> / Envoy's bandwidth_limit filter.
/// </summary>
public sealed record BandwidthConfig
{
    public const long MinBurst = 1024;
    public const int MaxClientsLimit = 1_000_000;

    /// <summary>Sustained rate in bytes per second.</summary>
    public long BytesPerSecond { get; init; }
    /// <summary>Bucket size in bytes: what may go out at once after an idle period. Default: one tenth of a second at the rate, at least 64 KiB.</summary>
    public long Burst { get; init; }
    public BandwidthPartition PerClient { get; init; } = BandwidthPartition.None;
    /// <summary>For <see cref="BandwidthPartition.Header"/>: the header whose value is the client key.</summary>
    public string? Header { get; init; }
    /// <summary>Most client buckets kept at once; idle (full) and then least recently used buckets are evicted beyond it.</summary>
    public int MaxClients { get; init; } = 10_000;

    /// <summary>The default burst for a rate: 100 ms worth of it, at least 64 KiB.</summary>
    public static long DefaultBurst(long bytesPerSecond) => Math.Max(64 * 1024, bytesPerSecond / 10);
}

/// <summary>How a cluster's adaptive concurrency limit follows latency.</summary>
public enum ConcurrencyAlgorithm
{
    /// <summary>limit × (minRTT·(1+buffer) / sampleRTT) + √limit, with periodic minRTT re-measurement (Envoy's gradient controller, Netflix Gradient2).</summary>
    Gradient,
    /// <summary>Additive increase per good window, multiplicative decrease on a slow window, a timeout or a 5xx (Netflix AIMD).</summary>
    Aimd,
}

/// <summary>
/// A cluster's <c>adaptiveConcurrency</c> block: attempts beyond a limit that follows measured latency are shed
/// at once with 503 <c>concurrency_limited</c>.
/// </summary>
public sealed record AdaptiveConcurrencyConfig
{
    public const int MaxLimitCeiling = 100_000;

    public ConcurrencyAlgorithm Algorithm { get; init; } = ConcurrencyAlgorithm.Gradient;
    /// <summary>The limit before any latency was measured.</summary>
    public int InitialLimit { get; init; } = 20;
    /// <summary>The limit never falls below this; the gradient algorithm also uses it while it re-measures minRTT.</summary>
    public int MinLimit { get; init; } = 3;
    public int MaxLimit { get; init; } = 1000;
    /// <summary>Length of one sample window; the limit is recomputed once per window.</summary>
    public TimeSpan SampleWindow { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>A window is extended until it holds this many samples.</summary>
    public int MinSamples { get; init; } = 10;
    /// <summary>Gradient: latency above minRTT tolerated before the limit shrinks, as a fraction of minRTT.</summary>
    public double Buffer { get; init; } = 0.25;
    /// <summary>Gradient: how often minRTT is measured again (at <see cref="MinLimit"/> concurrency).</summary>
    public TimeSpan MinRttInterval { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Gradient: samples that make one minRTT measurement.</summary>
    public int MinRttSamples { get; init; } = 25;
    /// <summary>AIMD: a window whose average latency exceeds this shrinks the limit.</summary>
    public TimeSpan LatencyThreshold { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>AIMD: factor applied to the limit on a bad window.</summary>
    public double BackoffRatio { get; init; } = 0.9;
    /// <summary>AIMD: added to the limit after a good window in which the limit was used.</summary>
    public int Increase { get; init; } = 1;
}
