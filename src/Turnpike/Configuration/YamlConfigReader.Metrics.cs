namespace Turnpike.Configuration;

/// <summary>The <c>metrics</c> section.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] MetricsKeys = ["enabled", "path", "runtime"];

    /// <summary>Paths the admin listener answers itself; the scrape path may not shadow them.</summary>
    private static readonly string[] ReservedAdminPaths = ["/", "/healthz", "/readyz"];

    private static MetricsConfig ReadMetrics(YamlSection? s)
    {
        var d = new MetricsConfig();
        if (s is null)
        {
            return d;
        }

        var path = s.String("path", d.Path)!;
        if (path.Length < 2 || path[0] != '/' || path.Contains('?', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal) || path.Contains(' ', StringComparison.Ordinal))
        {
            s.Error("path", $"'{path}' is not a plain absolute path such as /metrics");
            path = d.Path;
        }
        else if (Array.IndexOf(ReservedAdminPaths, path) >= 0 || path.StartsWith("/admin/", StringComparison.Ordinal))
        {
            s.Error("path", $"'{path}' is taken by the admin listener's own endpoints; use a path such as /metrics");
            path = d.Path;
        }

        return new MetricsConfig
        {
            Enabled = s.Bool("enabled", d.Enabled),
            Path = path,
            Runtime = s.Bool("runtime", d.Runtime),
        };
    }
}
