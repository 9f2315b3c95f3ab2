using System.Text.Json.Serialization;

namespace Turnpike.Tools.Bench;

/// <summary>Latency percentiles in milliseconds (microsecond resolution) from an HDR histogram.</summary>
public sealed record LatencySummary
{
    public long Count { get; init; }
    public double Min { get; init; }
    public double Mean { get; init; }
    public double Stdev { get; init; }
    public double P50 { get; init; }
    public double P90 { get; init; }
    public double P99 { get; init; }
    public double P999 { get; init; }
    public double P9999 { get; init; }
    public double Max { get; init; }
}

/// <summary>Transport errors by kind; <see cref="Status"/> counts answers with a status of 400 or more.</summary>
public sealed record ErrorCounts
{
    public long Connect { get; init; }
    public long Timeout { get; init; }
    public long Reset { get; init; }
    public long Read { get; init; }

    /// <summary>Connect + timeout + reset + read.</summary>
    public long Transport { get; init; }

    /// <summary>Answers with status ≥ 400.</summary>
    public long Status { get; init; }
}

/// <summary>What the bench process itself spent during the measured run.</summary>
public sealed record ProcessUsage
{
    public double CpuUserSeconds { get; init; }
    public double CpuSystemSeconds { get; init; }

    /// <summary>(user + system CPU) / operations, in microseconds.</summary>
    public double CpuMicrosPerOperation { get; init; }
    public long PeakWorkingSetBytes { get; init; }
    public long AllocatedBytes { get; init; }
    public int Gen0Collections { get; init; }
}

/// <summary>The result document of one bench run (<c>--json FILE</c>); the schema is in docs/bench.md.</summary>
public sealed record BenchResult
{
    public string Schema { get; init; } = "turnpike.bench/v1";
    public required string Name { get; init; }
    public required DateTimeOffset Timestamp { get; init; }
    public required string Target { get; init; }
    public required IReadOnlyList<string> Urls { get; init; }
    public required string Protocol { get; init; }

    /// <summary>"closed" or "open".</summary>
    public required string Model { get; init; }
    public required string Method { get; init; }
    public int Connections { get; init; }
    public int Threads { get; init; }
    public int? StreamsPerConnection { get; init; }
    public double? Rate { get; init; }

    /// <summary>Measured seconds.</summary>
    public double Duration { get; init; }

    /// <summary>Complete answers (any status) or echoed WebSocket messages.</summary>
    public long Operations { get; init; }

    /// <summary>Operations per second.</summary>
    public double Throughput { get; init; }

    /// <summary>Latency from each request's intended send time (open model: coordinated-omission corrected).</summary>
    public required LatencySummary Latency { get; init; }

    /// <summary>Latency from each request's actual send time (equals <see cref="Latency"/> in the closed model).</summary>
    public required LatencySummary LatencyUncorrected { get; init; }

    public required IReadOnlyDictionary<string, long> StatusCodes { get; init; }
    public required ErrorCounts Errors { get; init; }

    /// <summary>(transport errors + status errors) / (operations + transport errors).</summary>
    public double ErrorRate { get; init; }

    /// <summary>Bytes received (HTTP/1.1: status line, headers and body; HTTP/2: body; WebSocket: payload).</summary>
    public long Bytes { get; init; }

    /// <summary>Bytes received per second.</summary>
    public double Bandwidth { get; init; }

    /// <summary>Connections opened during the run (more than <see cref="Connections"/> when some were re-opened).</summary>
    public long ConnectionsOpened { get; init; }
    public required ProcessUsage Process { get; init; }
}

/// <summary>The result of <c>--compare</c>: both targets over alternating rounds and their ratios (b / a).</summary>
public sealed record BenchComparison
{
    public string Schema { get; init; } = "turnpike.bench.compare/v1";
    public int Rounds { get; init; }
    public required BenchResult A { get; init; }
    public required BenchResult B { get; init; }

    /// <summary>b / a for throughput, p50, p99 and CPU per operation.</summary>
    public required IReadOnlyDictionary<string, double> Ratio { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(BenchResult))]
[JsonSerializable(typeof(BenchComparison))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
