namespace Turnpike.Observability;

/// <summary>
/// The one meter of the gateway and the names every part relies on. The dashboard listens by these names (with a
/// <c>MeterListener</c>), Prometheus sees them translated: dots become underscores, the unit is appended
/// (<c>_seconds</c>) and counters get <c>_total</c>.
/// </summary>
internal static class TurnpikeMeter
{
    /// <summary>The meter's name, created through <see cref="System.Diagnostics.Metrics.IMeterFactory"/>.</summary>
    public const string Name = "Turnpike";

    /// <summary>The label value of a request no route matched (route and cluster).</summary>
    public const string None = "(none)";

    /// <summary>
    /// Histogram bucket bounds in seconds: fine below a millisecond (a proxied request on loopback takes ~100-300
    /// µs), coarse up to ten seconds.
    /// </summary>
    public static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>"1xx" … "5xx" for a status code; anything outside 100-599 counts as "5xx".</summary>
    public static int StatusClassIndex(int status) => status is >= 100 and <= 599 ? (status / 100) - 1 : 4;

    public static readonly string[] StatusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"];
}
