using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

/// <summary><c>listeners.*.engine</c>: kestrel (default) or raw; raw only for cleartext HTTP/1.1.</summary>
public sealed class ListenerEngineConfigTests
{
    [Theory]
    [InlineData("", null)]
    [InlineData("\n    engine: kestrel", ListenerEngine.Kestrel)]
    [InlineData("\n    engine: raw", ListenerEngine.Raw)]
    [InlineData("\n    engine: RAW\n    protocols: http1", ListenerEngine.Raw)]
    public void EngineIsRead(string body, ListenerEngine? expected)
    {
        var result = YamlConfigReader.Read($"listeners:\n  l:\n    port: 80{body}\n", "l.yaml");
        Assert.DoesNotContain(result.Errors, e => e.Field.StartsWith("listeners", StringComparison.Ordinal));
        Assert.Equal(expected, result.Config!.Listeners[0].Engine);
    }

    [Theory]
    [InlineData("engine: raw\n    protocols: http2", 4, "HTTP/1.1 only")]
    [InlineData("engine: rwa", 4, "did you mean 'raw'")]
    public void RawNeedsCleartextHttp1(string body, int line, string message)
    {
        var result = YamlConfigReader.Read($"listeners:\n  l:\n    port: 80\n    {body}\n", "l.yaml");
        var error = Assert.Single(result.Errors, e => e.Field == "listeners.l.engine");
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("l.yaml", Path.GetFileName(error.File));
        Assert.Equal(line, error.Line);
        Assert.Equal(13, error.Column);
    }

    [Fact]
    public void RawWithTlsIsRefused()
    {
        var cert = Path.GetTempFileName();
        try
        {
            var result = YamlConfigReader.Read($"listeners:\n  l:\n    port: 80\n    engine: raw\n    tls: {{ certificate: {cert}, key: {cert} }}\n", "l.yaml");
            var error = Assert.Single(result.Errors, e => e.Field == "listeners.l.engine");
            Assert.Contains("cleartext", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(cert);
        }
    }
}
