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
internal sealed partial class AdminJsonContext : JsonSerializerContext;

internal sealed record ReloadResponse(bool Ok, long Generation, IReadOnlyList<ConfigError> Errors);
