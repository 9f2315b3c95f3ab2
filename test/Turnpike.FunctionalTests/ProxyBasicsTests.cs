using System.Net;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

public sealed class ProxyBasicsTests
{
    [Fact]
    public async Task ProxiesToBackendAndAddsForwardedHeaders()
    {
        await using var backend = await TestBackend.StartEchoAsync("b1");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));

        using var response = await gw.Client.GetAsync(gw.Combine("/hello/world?x=1"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await Echo.ReadAsync(response);
        Assert.Equal("b1", echo.Backend);
        Assert.Equal("/hello/world", echo.Path);
        Assert.Equal("?x=1", echo.Query);
        Assert.Equal("127.0.0.1", echo.Header("x-forwarded-for"));
        Assert.Equal("http", echo.Header("x-forwarded-proto"));
        Assert.Equal(gw.Url.Authority, echo.Header("x-forwarded-host"));
    }

    [Fact]
    public async Task UnmatchedRequestGets404WithReason()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync($$"""
            routes:
              api:
                match: { pathPrefix: /api }
                cluster: c
            clusters:
              c:
                destinations:
                  d1: {{backend.Address}}
            """);

        using var response = await gw.Client.GetAsync(gw.Combine("/other"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("no_route", response.Headers.GetValues("x-turnpike-error").Single());
        Assert.Contains("\"error\":\"no_route\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, backend.Requests);
    }

    [Fact]
    public async Task PostBodyIsForwarded()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));

        using var response = await gw.Client.PostAsync(gw.Combine("/upload"), new ByteArrayContent(new byte[100_000]));
        var echo = await Echo.ReadAsync(response);
        Assert.Equal("POST", echo.Method);
        Assert.Equal(100_000, echo.BodyLength);
    }
}
