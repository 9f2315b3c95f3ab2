using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

/// <summary><c>clusters.*.http.engine</c>: yarp (default) or raw, and what raw cannot be combined with.</summary>
public sealed class UpstreamEngineConfigTests
{
    private static ConfigLoadResult Read(string http, string destination = "http://127.0.0.1:1") =>
        YamlConfigReader.Read($"listeners: {{ l: {{ port: 0 }} }}\nclusters:\n  c:\n    destinations: {{ d: '{destination}' }}\n    http:\n      {http.Replace("\n", "\n      ", StringComparison.Ordinal)}\n", "engine.yaml");

    [Theory]
    [InlineData("engine: raw", UpstreamEngine.Raw)]
    [InlineData("engine: yarp", UpstreamEngine.Yarp)]
    [InlineData("engine: RAW", UpstreamEngine.Raw)]
    public void ReadsEngine(string yaml, UpstreamEngine expected)
    {
        var result = Read(yaml);
        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Config!.Clusters[0].Http.Engine);
    }

    [Fact]
    public void EngineIsUnsetByDefault() =>
        Assert.Null(YamlConfigReader.Read("listeners: { l: { port: 0 } }\nclusters:\n  c:\n    destinations: { d: 'http://127.0.0.1:1' }\n", "engine.yaml").Config!.Clusters[0].Http.Engine);

    [Theory]
    [InlineData("engine: rawr", "http://127.0.0.1:1", "did you mean 'raw'", 6)]
    [InlineData("engine: raw\nversion: \"2\"", "http://127.0.0.1:1", "cannot be combined with version \"2\"", 6)]
    [InlineData("version: \"2\"\nengine: raw", "http://127.0.0.1:1", "cannot be combined with version \"2\"", 7)]
    [InlineData("engine: raw", "https://127.0.0.1:1", "needs http:// destinations", 6)]
    public void ReportsMistakesWithPosition(string yaml, string destination, string message, int line)
    {
        var result = Read(yaml, destination);
        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal("clusters.c.http.engine", error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("engine.yaml", error.File);
        Assert.Equal(line, error.Line);
        Assert.True(error.Column > 0);
    }
}
