namespace Turnpike.Configuration;

/// <summary>The <c>tracing</c> section: OpenTelemetry spans for the gateway hop, exported over OTLP.</summary>
public sealed record TracingConfig
{
    public bool Enabled { get; init; }

    /// <summary>Share of new traces sampled (0..1). A request with an incoming <c>traceparent</c> follows its parent's decision.</summary>
    public double SamplingRatio { get; init; } = 1.0;

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; init; } = "turnpike";

    public OtlpConfig Otlp { get; init; } = new();
}

/// <summary>Where spans go: an OTLP collector.</summary>
public sealed record OtlpConfig
{
    /// <summary>Absolute http(s) URL of the collector. For <c>http</c> the <c>/v1/traces</c> path is added when absent.</summary>
    public string Endpoint { get; init; } = "http://127.0.0.1:4317";

    public OtlpProtocol Protocol { get; init; } = OtlpProtocol.Grpc;

    /// <summary>Per export.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

public enum OtlpProtocol
{
    Grpc,
    Http,
}
