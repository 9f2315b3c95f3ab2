using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Turnpike.FunctionalTests.Infrastructure;
using Turnpike.Hosting;

namespace Turnpike.FunctionalTests;

/// <summary>Listener protocols (HTTP/1.1, h2c, TLS with ALPN) and HTTP/2 to the upstream.</summary>
public sealed class ProtocolTests
{
    private static string Routes(TestBackend backend, string clusterHttp = "") => $$"""
        routes:
          all:
            match: { path: "/{**rest}" }
            cluster: c
        clusters:
          c:
            destinations:
              d1: {{backend.Address}}
        {{clusterHttp}}
        """;

    [Fact]
    public async Task Http1ListenerProxiesOverHttp11()
    {
        await using var backend = await TestBackend.StartEchoAsync("b1");
        await using var gw = await GatewayHost.StartAsync("""
            listeners:
              main: { address: 127.0.0.1, port: 0, protocols: http1 }
            """ + "\n" + Routes(backend));
        using var client = GatewayHost.CreateClient(HttpVersion.Version11, HttpVersionPolicy.RequestVersionExact);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var response = await client.GetAsync(gw.Combine("/h1/check"), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        var echo = await Echo.ReadAsync(response);
        Assert.Equal("b1", echo.Backend);
        Assert.Equal("/h1/check", echo.Path);
        Assert.Equal("HTTP/1.1", echo.Protocol);
    }

    [Fact]
    public async Task H2cListenerServesHttp2AndRefusesHttp11()
    {
        await using var backend = await TestBackend.StartEchoAsync("b1");
        await using var gw = await GatewayHost.StartAsync("""
            listeners:
              h2c: { address: 127.0.0.1, port: 0, protocols: http2 }
            """ + "\n" + Routes(backend));
        using var h2 = GatewayHost.CreateClient(HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact);
        using var h1 = GatewayHost.CreateClient(HttpVersion.Version11, HttpVersionPolicy.RequestVersionExact);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var response = await h2.GetAsync(gw.Combine("/over/h2c"), cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        var echo = await Echo.ReadAsync(response);
        Assert.Equal("/over/h2c", echo.Path);
        // The upstream leg is independent of the client's: the cluster speaks HTTP/1.1 by default.
        Assert.Equal("HTTP/1.1", echo.Protocol);

        // An HTTP/2-only cleartext listener cannot serve an HTTP/1.1 request line. Kestrel answers it with a bare
        // 400 and closes the connection (older servers just drop it); either way nothing is proxied.
        var requestsBefore = backend.Requests;
        try
        {
            using var refused = await h1.GetAsync(gw.Combine("/over/h1"), cts.Token);
            Assert.False(refused.IsSuccessStatusCode, $"an HTTP/1.1 request to an h2c listener succeeded: {refused}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal(HttpVersion.Version11, refused.Version);
            Assert.True(refused.Headers.ConnectionClose, "the connection must be closed after the refusal");
            Assert.False(refused.Headers.Contains("x-turnpike-error"), "the refusal comes from the protocol layer, not the proxy");
        }
        catch (HttpRequestException)
        {
            // Connection-level failure: equally acceptable. (A hang would end in TaskCanceledException and fail.)
        }

        Assert.Equal(requestsBefore, backend.Requests);
    }

    [Fact]
    public async Task TlsListenerNegotiatesHttp2OrHttp11ThroughAlpn()
    {
        await using var backend = await TestBackend.StartEchoAsync("b1");
        await using var gw = await GatewayHost.StartAsync("""
            listeners:
              secure:
                address: 127.0.0.1
                port: 0
                protocols: http1AndHttp2
                tls: { certificate: cert.pem, key: key.pem }
            """ + "\n" + Routes(backend), TestCertificates.LocalhostFiles);
        Assert.Equal("https", gw.Url.Scheme);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using (var h2 = GatewayHost.CreateClient(HttpVersion.Version20, HttpVersionPolicy.RequestVersionOrHigher))
        {
            using var response = await h2.GetAsync(gw.Combine("/alpn/h2"), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HttpVersion.Version20, response.Version);
            var echo = await Echo.ReadAsync(response);
            Assert.Equal("b1", echo.Backend);
            Assert.Equal("/alpn/h2", echo.Path);
            Assert.Equal("https", echo.Header("x-forwarded-proto"));
        }

        using (var h2Exact = GatewayHost.CreateClient(HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact))
        {
            using var response = await h2Exact.GetAsync(gw.Combine("/alpn/h2-exact"), cts.Token);
            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal("/alpn/h2-exact", (await Echo.ReadAsync(response)).Path);
        }

        using (var h1 = GatewayHost.CreateClient(HttpVersion.Version11, HttpVersionPolicy.RequestVersionExact))
        {
            using var response = await h1.GetAsync(gw.Combine("/alpn/h1"), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HttpVersion.Version11, response.Version);
            var echo = await Echo.ReadAsync(response);
            Assert.Equal("/alpn/h1", echo.Path);
            Assert.Equal("https", echo.Header("x-forwarded-proto"));
        }

        Assert.Equal(3, backend.Requests);
    }

    [Fact]
    public async Task MissingCertificateFileFailsValidation()
    {
        await using var backend = await TestBackend.StartEchoAsync("b1");
        var yaml = """
            listeners:
              secure:
                address: 127.0.0.1
                port: 0
                protocols: http1AndHttp2
                tls: { certificate: missing-cert.pem, key: key.pem }
            """ + "\n" + Routes(backend);

        // Only the key is written: the certificate path points at nothing.
        var error = await Assert.ThrowsAsync<ConfigException>(() => GatewayHost.StartAsync(yaml, ("key.pem", TestCertificates.LocalhostPem.Key)));

        var certError = Assert.Single(error.Errors);
        Assert.Equal("listeners.secure.tls.certificate", certError.Field);
        Assert.Contains("missing-cert.pem", certError.Message, StringComparison.Ordinal);
        Assert.Contains("listeners.secure.tls.certificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClusterVersion2SpeaksH2cToTheUpstream()
    {
        await using var backend = await TestBackend.StartEchoAsync("h2only", HttpProtocols.Http2);
        await using var gw = await GatewayHost.StartAsync(Routes(backend, """
                http: { version: "2" }
            """));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var response = await gw.Client.PostAsync(gw.Combine("/upstream/h2"), new ByteArrayContent(new byte[50_000]), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        var echo = await Echo.ReadAsync(response);
        Assert.Equal("h2only", echo.Backend);
        Assert.Equal("HTTP/2", echo.Protocol);
        Assert.Equal("/upstream/h2", echo.Path);
        Assert.Equal(50_000, echo.BodyLength);
    }
}
