using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class ShapingConfigTests
{
    private static ConfigLoadResult Read(string routeBody = "", string clusterBody = "") =>
        YamlConfigReader.Read(
            "listeners: { l: { port: 0 } }\nroutes:\n  r:\n    match: { path: /x }\n    cluster: c\n" + routeBody
            + "\nclusters:\n  c:\n    destinations: { d: 'http://127.0.0.1:1' }\n" + clusterBody + "\n",
            "s.yaml");

    [Fact]
    public void EverythingIsOffByDefault()
    {
        var result = Read();
        Assert.Empty(result.Errors);
        Assert.Null(result.Config!.Routes[0].Bandwidth);
        Assert.Null(result.Config.Clusters[0].AdaptiveConcurrency);
    }

    [Fact]
    public void ReadsEveryBandwidthKey()
    {
        var result = Read("    bandwidth: { bytesPerSecond: 1MiB, burst: 256KiB, perClient: 'header:x-user', maxClients: 500 }");
        Assert.Empty(result.Errors);
        Assert.Equal(new BandwidthConfig
        {
            BytesPerSecond = 1024 * 1024, Burst = 256 * 1024, PerClient = BandwidthPartition.Header, Header = "x-user", MaxClients = 500,
        }, result.Config!.Routes[0].Bandwidth);
    }

    [Theory]
    [InlineData("rate: 512KiB/s", 512 * 1024, 64 * 1024, BandwidthPartition.None)]
    [InlineData("rate: 10MiB/s, perClient: clientIp", 10 * 1024 * 1024, 1024 * 1024, BandwidthPartition.ClientIp)]
    [InlineData("bytesPerSecond: 2048, perClient: false", 2048, 64 * 1024, BandwidthPartition.None)]
    public void RateFormsAndDefaultBurst(string body, long rate, long burst, BandwidthPartition partition)
    {
        var result = Read($"    bandwidth: {{ {body} }}");
        Assert.Empty(result.Errors);
        var b = result.Config!.Routes[0].Bandwidth!;
        Assert.Equal((rate, burst, partition, 10_000), (b.BytesPerSecond, b.Burst, b.PerClient, b.MaxClients));
    }

    [Fact]
    public void ReadsEveryAdaptiveConcurrencyKey()
    {
        var gradient = Read(clusterBody: """
                adaptiveConcurrency:
                  algorithm: gradient
                  initialLimit: 50
                  minLimit: 5
                  maxLimit: 200
                  sampleWindow: 250ms
                  minSamples: 20
                  buffer: 0.5
                  minRttInterval: 30s
                  minRttSamples: 40
            """);
        Assert.Empty(gradient.Errors);
        Assert.Equal(new AdaptiveConcurrencyConfig
        {
            InitialLimit = 50, MinLimit = 5, MaxLimit = 200, SampleWindow = TimeSpan.FromMilliseconds(250), MinSamples = 20,
            Buffer = 0.5, MinRttInterval = TimeSpan.FromSeconds(30), MinRttSamples = 40,
        }, gradient.Config!.Clusters[0].AdaptiveConcurrency);

        var aimd = Read(clusterBody: "    adaptiveConcurrency: { algorithm: aimd, latencyThreshold: 200ms, backoffRatio: 0.7, increase: 2 }");
        Assert.Empty(aimd.Errors);
        Assert.Equal(new AdaptiveConcurrencyConfig
        {
            Algorithm = ConcurrencyAlgorithm.Aimd, LatencyThreshold = TimeSpan.FromMilliseconds(200), BackoffRatio = 0.7, Increase = 2,
        }, aimd.Config!.Clusters[0].AdaptiveConcurrency);
    }

    [Fact]
    public void EmptyAdaptiveConcurrencyTakesDefaults()
    {
        var result = Read(clusterBody: "    adaptiveConcurrency: {}");
        Assert.Empty(result.Errors);
        Assert.Equal(new AdaptiveConcurrencyConfig(), result.Config!.Clusters[0].AdaptiveConcurrency);
    }

    [Theory]
    [InlineData("    bandwidth: { burst: 64KiB }", "routes.r.bandwidth.bytesPerSecond", "is required")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, rate: 1MiB/s }", "routes.r.bandwidth.rate", "either bytesPerSecond or rate")]
    [InlineData("    bandwidth: { rate: fast }", "routes.r.bandwidth.rate", "not a rate")]
    [InlineData("    bandwidth: { rate: 100/s }", "routes.r.bandwidth.rate", "at least 1024")]
    [InlineData("    bandwidth: { bytesPerSecond: 10 }", "routes.r.bandwidth.bytesPerSecond", "not a valid size in [1024")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, burst: 100 }", "routes.r.bandwidth.burst", "not a valid size in [1024")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, perClient: clientIP }", "routes.r.bandwidth.perClient", "did you mean 'clientIp'")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, perClient: 'header:' }", "routes.r.bandwidth.perClient", "not a header name")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, maxClients: 10 }", "routes.r.bandwidth.maxClients", "only applies together with perClient")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, perClient: clientIp, maxClients: 0 }", "routes.r.bandwidth.maxClients", "out of range")]
    [InlineData("    bandwidth: { bytesPerSecond: 1MiB, brust: 1KiB }", "routes.r.bandwidth.brust", "did you mean 'burst'")]
    [InlineData("    bandwith: { bytesPerSecond: 1MiB }", "routes.r.bandwith", "did you mean 'bandwidth'")]
    public void BandwidthErrors(string routeBody, string field, string message) => AssertError(Read(routeBody), field, message);

    [Theory]
    [InlineData("{ algorithm: vegas }", "algorithm", "not one of: gradient, aimd")]
    [InlineData("{ algorithm: gradiant }", "algorithm", "did you mean 'gradient'")]
    [InlineData("{ minLimit: 0 }", "minLimit", "out of range")]
    [InlineData("{ minLimit: 10, maxLimit: 5 }", "maxLimit", "must be at least minLimit")]
    [InlineData("{ minLimit: 10, initialLimit: 5 }", "initialLimit", "outside [minLimit, maxLimit]")]
    [InlineData("{ maxLimit: 100001 }", "maxLimit", "out of range")]
    [InlineData("{ sampleWindow: 0 }", "sampleWindow", "not a valid duration")]
    [InlineData("{ minSamples: 0 }", "minSamples", "out of range")]
    [InlineData("{ buffer: 5 }", "buffer", "not a number in [0, 4]")]
    [InlineData("{ minRttInterval: soon }", "minRttInterval", "not a valid duration")]
    [InlineData("{ minRttSamples: 0 }", "minRttSamples", "out of range")]
    [InlineData("{ latencyThreshold: 1s }", "latencyThreshold", "only applies to algorithm aimd")]
    [InlineData("{ algorithm: aimd, buffer: 0.1 }", "buffer", "only applies to algorithm gradient")]
    [InlineData("{ algorithm: aimd, latencyThreshold: -1s }", "latencyThreshold", "not a valid duration")]
    [InlineData("{ algorithm: aimd, backoffRatio: 0.2 }", "backoffRatio", "not a number in [0.5, 0.99]")]
    [InlineData("{ algorithm: aimd, increase: 0 }", "increase", "out of range")]
    [InlineData("{ initalLimit: 5 }", "initalLimit", "did you mean 'initialLimit'")]
    public void AdaptiveConcurrencyErrors(string block, string key, string message) =>
        AssertError(Read(clusterBody: $"    adaptiveConcurrency: {block}"), $"clusters.c.adaptiveConcurrency.{key}", message);

    [Fact]
    public void ErrorsPointAtTheValue()
    {
        var result = Read("    bandwidth:\n      bytesPerSecond: 1MiB\n      perClient: everyone");
        var error = Assert.Single(result.Errors);
        Assert.Equal(("s.yaml", 8, 18), (error.File, error.Line, error.Column));
    }

    private static void AssertError(ConfigLoadResult result, string field, string message)
    {
        var error = Assert.Single(result.Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message);
        Assert.True(error.Line > 0 && error.Column > 0);
    }
}
