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

internal sealed class GatewayRequestFeature : IGatewayRequestFeature
{
    public RouteModel? Route { get; set; }

    public DestinationModel? Destination { get; set; }

    public int Attempts { get; set; }

    public GatewayErrorCode Error { get; set; }

    public long StartTimestamp { get; set; }

    public Logging.CountingStreams? Counters { get; set; }

    public string? RouteId => Route?.Id;

    public string? ClusterId => Route?.Cluster.Id;

    public string? DestinationId => Destination?.Id;

    public string? ErrorReason => Error == GatewayErrorCode.None ? null : ErrorResponses.ReasonOf(Error);
}
