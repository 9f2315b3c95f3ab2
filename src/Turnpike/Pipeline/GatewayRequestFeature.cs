using Turnpike.Forwarding;
using Turnpike.Model;

namespace Turnpike.Pipeline;

/// <summary>What the gateway decided for one request: route, cluster, destination, attempts and outcome.
/// Later stages (access log, metrics) read it from <c>HttpContext.Features</c>.</summary>
public interface IGatewayRequestFeature
{
    string? RouteId { get; }

    string? ClusterId { get; }

    string? DestinationId { get; }

    int Attempts { get; }

    /// <summary>The gateway's own error reason, when it answered by itself.</summary>
    string? ErrorReason { get; }
}

/// <remarks>Not sealed only for <see cref="GatewayRetryFeature"/>, so a route without retries allocates no retry state.</remarks>
internal class GatewayRequestFeature : IGatewayRequestFeature
{
    public RouteModel? Route { get; set; }

    public DestinationModel? Destination { get; set; }

    public int Attempts { get; set; }

    public GatewayErrorCode Error { get; set; }

    public long StartTimestamp { get; set; }

    public Logging.CountingStreams? Counters { get; set; }

    /// <summary>The body counters of an earlier sampled request on this context, kept across <see cref="Reset"/> for the next one.</summary>
    public Logging.CountingStreams? SpareCounters { get; set; }

    /// <summary>Time spent in upstream attempts so far (all attempts together), for the access log's <c>upstream_ms</c>.</summary>
    public TimeSpan UpstreamDuration { get; set; }

    /// <summary>When the current attempt's response headers arrived (0: not yet); set only for clusters with adaptive concurrency.</summary>
    public long ResponseHeadersTimestamp { get; set; }

    public string? RouteId => Route?.Id;

    /// <summary>Starts over for the next request on the same context (see <see cref="RequestFeatureCache"/>).</summary>
    public void Reset(RouteModel route)
    {
        Route = route;
        Destination = null;
        Attempts = 0;
        Error = GatewayErrorCode.None;
        StartTimestamp = 0;
        Counters = null;
        UpstreamDuration = TimeSpan.Zero;
        ResponseHeadersTimestamp = 0;
    }

    public string? ClusterId => Route?.Cluster.Id;

    public string? DestinationId => Destination?.Id;

    public string? ErrorReason => Error == GatewayErrorCode.None ? null : ErrorResponses.ReasonOf(Error);
}

/// <summary>
/// The request feature of a route with a <c>retry</c> block: what the handler and the
/// <see cref="Retries.RetryingTransformer"/> tell each other about the current attempt.
/// </summary>
internal sealed class GatewayRetryFeature : GatewayRequestFeature
{
    /// <summary>Set by the handler before each attempt: an answer with a retryable status may be held back for a retry.</summary>
    public bool RetryOnStatusAllowed { get; set; }

    /// <summary>Set by the transformer: the upstream status it held back for a retry (0: none).</summary>
    public int RetryStatus { get; set; }

    /// <summary>With <see cref="RetryStatus"/>: the wait the upstream asked for in Retry-After, when it gave one.</summary>
    public TimeSpan? RetryAfter { get; set; }

    /// <summary>The current attempt's per-try timeout, disarmed by the transformer once response headers arrive.</summary>
    public CancellationTokenSource? PerTryTimeout { get; set; }
}
