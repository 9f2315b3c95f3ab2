using System.Text.Json.Serialization;
using Turnpike.Configuration;

namespace Turnpike.Admin;

/// <summary>Source-generated JSON for the admin API: no reflection, trim- and AOT-safe.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GatewayConfig))]
[JsonSerializable(typeof(ReloadResponse))]
[JsonSerializable(typeof(ClustersResponse))]
[JsonSerializable(typeof(RateLimitsResponse))]
[JsonSerializable(typeof(ConnectionsResponse))]
[JsonSerializable(typeof(AuthResponse))]
[JsonSerializable(typeof(RoutesResponse))]
[JsonSerializable(typeof(ErrorsResponse))]
[JsonSerializable(typeof(DrainResponse))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;

internal sealed record ReloadResponse(bool Ok, long Generation, IReadOnlyList<ConfigError> Errors);

/// <summary><c>GET /admin/clusters</c>: every cluster's destinations and what their health mechanisms say.</summary>
internal sealed record ClustersResponse(long Generation, IReadOnlyList<ClusterStatus> Clusters);

internal sealed record ClusterStatus(string Id, string LoadBalancing, int Eligible, IReadOnlyList<DestinationStatus> Destinations, ConcurrencyStatus? AdaptiveConcurrency = null);

/// <summary>A cluster's adaptive concurrency limiter (absent when off). <c>MinRttMs</c> only for the gradient algorithm, once measured.</summary>
internal sealed record ConcurrencyStatus(string Algorithm, int Limit, long InFlight, long Admitted, long Shed, double? MinRttMs, double SampleRttMs, bool Measuring);

/// <summary>
/// One destination. <c>Breaker</c> is closed, halfOpen or open (absent when the cluster has no breaker); <c>Drained</c>:
/// taken out by the admin API; <c>EwmaMs</c>: peak-EWMA latency (only for p2c_ewma clusters).
/// </summary>
internal sealed record DestinationStatus(
    string Id,
    string Address,
    int Priority,
    bool Eligible,
    bool Healthy,
    bool Ejected,
    CircuitBreaking.CircuitState? Breaker,
    long InFlight,
    long Requests,
    long Failures,
    bool Drained = false,
    double? EwmaMs = null);
