using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

/// <summary>The <c>clusters.*.http</c> keys for connection pooling, keep-alive PINGs, TCP and DNS.</summary>
public sealed class UpstreamHttpConfigTests
{
    private static ConfigLoadResult Read(string http) =>
        YamlConfigReader.Read($"listeners: {{ l: {{ port: 0 }} }}\nclusters:\n  c:\n    destinations: {{ d: 'http://127.0.0.1:1' }}\n    http:\n      {http.Replace("\n", "\n      ", StringComparison.Ordinal)}\n", "http.yaml");

    private static UpstreamHttpConfig ReadValid(string http)
    {
        var result = Read(http);
        Assert.Empty(result.Errors);
        return result.Config!.Clusters[0].Http;
    }

    [Fact]
    public void Defaults()
    {
        var http = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nclusters:\n  c:\n    destinations: { d: 'http://127.0.0.1:1' }\n", "http.yaml").Config!.Clusters[0].Http;
        Assert.Equal(int.MaxValue, http.MaxConnectionsPerDestination);
        Assert.Equal(TimeSpan.FromSeconds(90), http.PooledConnectionIdleTimeout);
        Assert.Null(http.PooledConnectionLifetime);
        Assert.Equal(TimeSpan.FromMinutes(1), http.DnsRefresh);
        Assert.Equal(TimeSpan.Zero, http.KeepAlivePingDelay);
        Assert.Equal(TimeSpan.FromSeconds(20), http.KeepAlivePingTimeout);
        Assert.Equal(KeepAlivePingPolicy.WithActiveRequests, http.KeepAlivePingPolicy);
        Assert.True(http.NoDelay);
        Assert.Equal(64 * 1024, http.MaxResponseHeadersSize);
        Assert.True(http.Http2MultipleConnections);
    }

    [Theory]
    [InlineData("pooledConnectionLifetime: 10m", 600)]
    [InlineData("pooledConnectionLifetime: 1500ms", 1.5)]
    [InlineData("pooledConnectionLifetime: 0", 0)]
    public void ReadsPooledConnectionLifetime(string yaml, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), ReadValid(yaml).PooledConnectionLifetime);

    [Fact]
    public void ReadsEveryPoolingKey()
    {
        var http = ReadValid("""
            version: "2"
            maxConnectionsPerDestination: 8
            pooledConnectionIdleTimeout: 30s
            dnsRefresh: 15s
            keepAlivePingDelay: 30s
            keepAlivePingTimeout: 5s
            keepAlivePingPolicy: always
            http2MultipleConnections: false
            noDelay: false
            maxResponseHeadersSize: 128KiB
            """);
        Assert.Equal(8, http.MaxConnectionsPerDestination);
        Assert.Equal(TimeSpan.FromSeconds(30), http.PooledConnectionIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(15), http.DnsRefresh);
        Assert.Equal(TimeSpan.FromSeconds(30), http.KeepAlivePingDelay);
        Assert.Equal(TimeSpan.FromSeconds(5), http.KeepAlivePingTimeout);
        Assert.Equal(KeepAlivePingPolicy.Always, http.KeepAlivePingPolicy);
        Assert.False(http.Http2MultipleConnections);
        Assert.False(http.NoDelay);
        Assert.Equal(128 * 1024, http.MaxResponseHeadersSize);
    }

    [Theory]
    [InlineData("withActiveRequests", KeepAlivePingPolicy.WithActiveRequests)]
    [InlineData("WithActiveRequests", KeepAlivePingPolicy.WithActiveRequests)]
    [InlineData("always", KeepAlivePingPolicy.Always)]
    public void ReadsPingPolicyNames(string name, KeepAlivePingPolicy expected) =>
        Assert.Equal(expected, ReadValid($"version: \"2\"\nkeepAlivePingPolicy: {name}").KeepAlivePingPolicy);

    [Theory]
    [InlineData("pooledConnectionLifetime: forever", "pooledConnectionLifetime", "is not a valid duration")]
    [InlineData("pooledConnectionLifetime: -1s", "pooledConnectionLifetime", "is not a valid duration")]
    [InlineData("pooledConnectonLifetime: 1m", "pooledConnectonLifetime", "did you mean 'pooledConnectionLifetime'")]
    [InlineData("version: \"2\"\nkeepAlivePingDelay: 500ms", "keepAlivePingDelay", "below the minimum of 1s")]
    [InlineData("version: \"2\"\nkeepAlivePingDelay: soon", "keepAlivePingDelay", "is not a valid duration")]
    [InlineData("version: \"2\"\nkeepAlivePingTimeout: 0", "keepAlivePingTimeout", "is not a valid duration")]
    [InlineData("version: \"2\"\nkeepAlivePingTimeout: 999ms", "keepAlivePingTimeout", "below the minimum of 1s")]
    [InlineData("version: \"2\"\nkeepAlivePingPolicy: allways", "keepAlivePingPolicy", "did you mean 'always'")]
    [InlineData("keepAlivePingDelay: 30s", "keepAlivePingDelay", "only applies to version \"2\"")]
    [InlineData("version: \"1.1\"\nkeepAlivePingPolicy: always", "keepAlivePingPolicy", "only applies to version \"2\"")]
    [InlineData("keepAlivePingTimout: 5s", "keepAlivePingTimout", "did you mean 'keepAlivePingTimeout'")]
    [InlineData("noDelay: maybe", "noDelay", "is not a boolean")]
    [InlineData("nodelay: false", "nodelay", "did you mean 'noDelay'")]
    [InlineData("maxResponseHeadersSize: 512", "maxResponseHeadersSize", "is not a valid size in [1024, 16777216]")]
    [InlineData("maxResponseHeadersSize: 1GiB", "maxResponseHeadersSize", "is not a valid size")]
    [InlineData("maxResponseHeadersSize: lots", "maxResponseHeadersSize", "is not a valid size")]
    [InlineData("maxConnectionsPerDestination: 0", "maxConnectionsPerDestination", "out of range")]
    [InlineData("dnsRefresh: 0", "dnsRefresh", "is not a valid duration")]
    [InlineData("dnsRefesh: 10s", "dnsRefesh", "did you mean 'dnsRefresh'")]
    public void ReportsMistakesWithPosition(string yaml, string key, string message)
    {
        var result = Read(yaml);
        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal($"clusters.c.http.{key}", error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("http.yaml", error.File);
        // The offending line is one of the lines given to Read, which start at line 6.
        Assert.InRange(error.Line, 6, 7);
    }
}
