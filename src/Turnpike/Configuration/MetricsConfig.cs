namespace Turnpike.Configuration;

/// <summary>
/// The <c>metrics</c> section: Prometheus metrics served on the admin listener. On by default; with the admin
/// listener off (or <c>enabled: false</c>) nothing listens to the instruments and recording costs one flag check.
/// </summary>
public sealed record MetricsConfig
{
    public bool Enabled { get; init; } = true;

    /// <summary>Path of the Prometheus scrape endpoint on the admin listener.</summary>
    public string Path { get; init; } = "/metrics";

    /// <summary>Also export the .NET runtime's own instruments (meter <c>System.Runtime</c>: CPU, memory, GC, thread pool).</summary>
    public bool Runtime { get; init; } = true;
}
