using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class TracingConfigTests
{
    private static ConfigLoadResult Read(string yaml) => YamlConfigReader.Read(yaml, "t.yaml");

    [Fact]
    public void OffByDefault()
    {
        var result = Read("listeners: { l: { port: 0 } }\n");
        Assert.Empty(result.Errors);
        Assert.False(result.Config!.Tracing.Enabled);
    }

    [Fact]
    public void ReadsEveryKey()
    {
        var result = Read("""
            listeners: { l: { port: 0 } }
            tracing:
              samplingRatio: 0.25
              serviceName: edge
              otlp: { endpoint: "http://collector:4318", protocol: http, timeout: 3s }
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(new TracingConfig
        {
            Enabled = true, // a tracing section turns it on unless it says enabled: false
            SamplingRatio = 0.25,
            ServiceName = "edge",
            Otlp = new OtlpConfig { Endpoint = "http://collector:4318", Protocol = OtlpProtocol.Http, Timeout = TimeSpan.FromSeconds(3) },
        }, result.Config!.Tracing);
    }

    [Fact]
    public void ErrorsNameLineAndField()
    {
        var result = Read("""
            tracing:
              enabled: true
              samplingRatio: 1.5
              otlp:
                endpoint: collector:4317
                protocol: grcp
              serviceNmae: x
            """);
        var errors = result.Errors.Select(e => $"{e.Line}:{e.Field}: {e.Message}").ToList();
        Assert.Contains(errors, e => e.StartsWith("3:tracing.samplingRatio", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("5:tracing.otlp.endpoint", StringComparison.Ordinal) && e.Contains("http://", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("6:tracing.otlp.protocol", StringComparison.Ordinal) && e.Contains("did you mean 'grpc'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("7:tracing.serviceNmae", StringComparison.Ordinal) && e.Contains("serviceName", StringComparison.Ordinal));
    }
}
