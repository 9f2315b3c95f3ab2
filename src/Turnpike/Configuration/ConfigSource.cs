using System.Reflection;
using Turnpike.Model;

namespace Turnpike.Configuration;

/// <summary>Where the configuration comes from: a YAML file, or the default embedded in the assembly.</summary>
public sealed class ConfigSource
{
    public const string EmbeddedName = "<embedded default>";

    private ConfigSource(string? path, Func<GatewayConfig, GatewayConfig>? overrides)
    {
        Path = path;
        Overrides = overrides;
    }

    /// <summary>The file path, or null for the embedded default.</summary>
    public string? Path { get; }

    /// <summary>Command-line and environment overrides applied after every load (ports, for instance).</summary>
    public Func<GatewayConfig, GatewayConfig>? Overrides { get; }

    public string Description => Path ?? EmbeddedName;

    public static ConfigSource FromFile(string path, Func<GatewayConfig, GatewayConfig>? overrides = null) =>
        new(System.IO.Path.GetFullPath(path), overrides);

    public static ConfigSource Embedded(Func<GatewayConfig, GatewayConfig>? overrides = null) => new(null, overrides);

    public static string ReadEmbeddedDefault()
    {
        using var stream = typeof(ConfigSource).Assembly.GetManifestResourceStream("Turnpike.default.yaml")
            ?? throw new InvalidOperationException("The embedded default configuration is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The YAML as the reader sees it (the file or the embedded default), without transform checks or overrides.</summary>
    internal ConfigLoadResult ReadYaml() =>
        Path is null ? YamlConfigReader.Read(ReadEmbeddedDefault(), EmbeddedName) : YamlConfigReader.ReadFile(Path);

    /// <summary>Reads and validates the configuration, including YARP's checks of each transform.</summary>
    internal ConfigLoadResult Load(RuntimeModelBuilder builder)
    {
        var result = ReadYaml();
        if (result.Config is null)
        {
            return result;
        }

        var errors = new List<ConfigError>(result.Errors);
        errors.AddRange(builder.ValidateTransforms(result.Config));
        errors.Sort(static (a, b) => a.Line != b.Line ? a.Line.CompareTo(b.Line) : a.Column.CompareTo(b.Column));
        var config = Overrides is null ? result.Config : Overrides(result.Config);
        return new ConfigLoadResult(errors.Count == 0 ? config : null, errors);
    }
}
