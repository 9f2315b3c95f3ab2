using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

public sealed class AdminTests
{
    [Fact]
    public async Task HealthReadinessAndEffectiveConfig()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));
        using var client = GatewayHost.CreateClient();

        using (var health = await client.GetAsync(new Uri(gw.AdminUrl, "/healthz")))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        using (var ready = await client.GetAsync(new Uri(gw.AdminUrl, "/readyz")))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        using var config = await client.GetAsync(new Uri(gw.AdminUrl, "/admin/config"));
        Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        using var json = JsonDocument.Parse(await config.Content.ReadAsStringAsync());
        Assert.Equal("all", json.RootElement.GetProperty("routes")[0].GetProperty("id").GetString());
        Assert.Equal(backend.Address, json.RootElement.GetProperty("clusters")[0].GetProperty("destinations")[0].GetProperty("address").GetString());

        // The admin port does not proxy, and the proxy port does not serve admin endpoints.
        using (var notProxied = await client.GetAsync(new Uri(gw.AdminUrl, "/some/path")))
        {
            Assert.Equal(HttpStatusCode.NotFound, notProxied.StatusCode);
        }

        using (var proxied = await gw.Client.GetAsync(gw.Combine("/admin/config")))
        {
            Assert.Equal("/admin/config", (await Echo.ReadAsync(proxied)).Path);
        }
    }

    [Fact]
    public async Task TokenProtectsAdminEndpointsAndIsRedacted()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: "admin:\n  address: 127.0.0.1\n  port: 0\n  token: s3cret-token"));
        using var client = GatewayHost.CreateClient();

        using (var anonymous = await client.GetAsync(new Uri(gw.AdminUrl, "/admin/config")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Contains("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
        }

        using (var wrong = new HttpRequestMessage(HttpMethod.Get, new Uri(gw.AdminUrl, "/admin/config")))
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "guess");
            using var response = await client.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using (var health = await client.GetAsync(new Uri(gw.AdminUrl, "/healthz")))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode); // probes need no token
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gw.AdminUrl, "/admin/config"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-token");
        using var ok = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var body = await ok.Content.ReadAsStringAsync();
        Assert.DoesNotContain("s3cret-token", body);
        Assert.Contains("\"token\": \"***\"", body);
    }

    [Fact]
    public async Task WrongMethodIs405()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));
        using var client = GatewayHost.CreateClient();
        using var response = await client.GetAsync(new Uri(gw.AdminUrl, "/admin/reload"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("POST", response.Content.Headers.Allow.Single());
    }
}
