using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class MetricsConfigTests
{
    [Fact]
    public void OnByDefaultAtSlashMetrics()
    {
        var result = YamlConfigReader.Read("listeners: { l: { port: 0 } }\n", "m.yaml");
        Assert.Empty(result.Errors);
        Assert.Equal(new MetricsConfig { Enabled = true, Path = "/metrics", Runtime = true }, result.Config!.Metrics);
    }

    [Fact]
    public void ReadsEveryKey()
    {
        var result = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nmetrics:\n  enabled: false\n  path: /prometheus\n  runtime: false\n", "m.yaml");
        Assert.Empty(result.Errors);
        Assert.Equal(new MetricsConfig { Enabled = false, Path = "/prometheus", Runtime = false }, result.Config!.Metrics);
    }

    [Theory]
    [InlineData("path: metrics", "path", "'metrics' is not a plain absolute path such as /metrics")]
    [InlineData("path: /metrics?x=1", "path", "is not a plain absolute path")]
    [InlineData("path: /healthz", "path", "'/healthz' is taken by the admin listener's own endpoints")]
    [InlineData("path: /admin/metrics", "path", "is taken by the admin listener's own endpoints")]
    [InlineData("enabled: maybe", "enabled", "maybe")]
    [InlineData("pth: /m", "pth", "unknown key 'pth'; did you mean 'path'?")]
    public void ErrorsNameLineAndField(string line, string field, string message)
    {
        var result = YamlConfigReader.Read($"listeners: {{ l: {{ port: 0 }} }}\nmetrics:\n  {line}\n", "m.yaml");
        var error = Assert.Single(result.Errors);
        Assert.Equal(3, error.Line);
        Assert.Equal("m.yaml", error.File);
        Assert.EndsWith(field, error.Field, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownTopLevelKeySuggestsMetrics()
    {
        var result = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nmetric:\n  enabled: true\n", "m.yaml");
        Assert.Contains(result.Errors, e => e.Message.Contains("did you mean 'metrics'?", StringComparison.Ordinal));
    }
}
