using System.Text.Json.Serialization;

namespace Turnpike.Tools.Probe;

/// <summary>One attempt: its latency in milliseconds, or why it was lost.</summary>
public sealed record ProbeAttempt
{
    public int Sequence { get; init; }

    /// <summary>Connect time (or TTFB with --http) in ms; null when lost.</summary>
    public double? LatencyMs { get; init; }

    /// <summary>"refused", "timeout", "unreachable", "reset", "closed", "dns" or "error"; null when answered.</summary>
    public string? Error { get; init; }

    /// <summary>With --http: the answer's status code when the status line arrived (TTFB is measured to its first byte).</summary>
    public int? Status { get; init; }
}

/// <summary>The result document of <c>turnpike probe --json FILE</c>; the schema is in docs/bench.md.</summary>
public sealed record ProbeResult
{
    public string Schema { get; init; } = "turnpike.probe/v1";
    public required string Target { get; init; }

    /// <summary>"tcp" (connect time) or "http" (time to first byte of GET /).</summary>
    public required string Mode { get; init; }
    public required DateTimeOffset Timestamp { get; init; }
    public int Sent { get; init; }
    public int Received { get; init; }
    public double LossPercent { get; init; }
    public double? Min { get; init; }
    public double? Avg { get; init; }
    public double? Max { get; init; }

    /// <summary>Mean absolute difference of consecutive answered samples, ms.</summary>
    public double? Jitter { get; init; }

    /// <summary>RFC 3550's smoothed estimate J after the last sample, ms.</summary>
    public double? JitterRfc3550 { get; init; }

    /// <summary>Lost attempts by reason.</summary>
    public required IReadOnlyDictionary<string, int> Errors { get; init; }
    public required IReadOnlyList<ProbeAttempt> Attempts { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(ProbeResult))]
internal sealed partial class ProbeJsonContext : JsonSerializerContext;
