namespace Turnpike.Configuration;

/// <summary>One problem found in a configuration file: where it is, which field, and what is wrong.</summary>
public sealed record ConfigError(string File, int Line, int Column, string Field, string Message)
{
    public override string ToString() =>
        Line > 0 ? $"{File}:{Line}:{Column}: {Field}: {Message}" : $"{File}: {Field}: {Message}";
}

/// <summary>The outcome of reading a configuration: the config when it is valid, otherwise every error found.</summary>
public sealed record ConfigLoadResult(GatewayConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool IsValid => Errors.Count == 0 && Config is not null;
}
