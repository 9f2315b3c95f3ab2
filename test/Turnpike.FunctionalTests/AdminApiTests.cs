using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Admin API of issue #6: routes, drain/enable a destination, the recent-errors ring, the dashboard stream.</summary>
public sealed class AdminApiTests
{
    [Fact]
    public async Task DrainedDestinationGetsNoNewRequestsUntilEnabledAndSurvivesReload()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        await using var b = await TestBackend.StartEchoAsync("b");
        var yaml = Configs.CatchAll($"a: {a.Address}\nb: {b.Address}");
        await using var gw = await GatewayHost.StartAsync(yaml);
        using var admin = GatewayHost.CreateClient();

        await SendAsync(gw, 10);
        Assert.True(a.Requests > 0 && b.Requests > 0, $"round robin uses both: a={a.Requests} b={b.Requests}");

        using (var drain = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/destinations/c/b/drain"), null))
        {
            Assert.Equal(HttpStatusCode.OK, drain.StatusCode);
            using var json = JsonDocument.Parse(await drain.Content.ReadAsStringAsync());
            var d = json.RootElement.GetProperty("destination");
            Assert.Equal("b", d.GetProperty("id").GetString());
            Assert.True(d.GetProperty("drained").GetBoolean());
            Assert.False(d.GetProperty("eligible").GetBoolean());
        }

        var bBefore = b.Requests;
        var aBefore = a.Requests;
        await SendAsync(gw, 20);
        Assert.Equal(bBefore, b.Requests);
        Assert.Equal(aBefore + 20, a.Requests);

        // A reload that carries the cluster over keeps the drain.
        await File.WriteAllTextAsync(gw.ConfigPath, GatewayHost.WithDefaults(yaml + "\n# touched\n"));
        using (var reload = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/reload"), null))
        {
            Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        }

        await SendAsync(gw, 10);
        Assert.Equal(bBefore, b.Requests);

        using (var clusters = await admin.GetAsync(new Uri(gw.AdminUrl, "/admin/clusters")))
        {
            using var json = JsonDocument.Parse(await clusters.Content.ReadAsStringAsync());
            var destinations = json.RootElement.GetProperty("clusters")[0].GetProperty("destinations");
            Assert.True(destinations[1].GetProperty("drained").GetBoolean());
            Assert.Equal(1, json.RootElement.GetProperty("clusters")[0].GetProperty("eligible").GetInt32());
        }

        // A reload that rebuilds the cluster (its settings changed) keeps the drain too.
        await File.WriteAllTextAsync(gw.ConfigPath, GatewayHost.WithDefaults(Configs.CatchAll($"a: {a.Address}\nb: {b.Address}", cluster: "loadBalancing: { policy: random }")));
        using (var reload = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/reload"), null))
        {
            Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        }

        await SendAsync(gw, 10);
        Assert.Equal(bBefore, b.Requests);

        using (var enable = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/destinations/c/b/enable"), null))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        // The cluster balances at random now: 40 requests put fewer than 8 on b with a probability of about 1e-5.
        await SendAsync(gw, 40);
        Assert.True(b.Requests >= bBefore + 8, $"traffic returns to b: {b.Requests - bBefore} of 40");

        // Unknown names are 404, other methods 405.
        using (var unknown = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/destinations/c/zz/drain"), null))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using (var noCluster = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/destinations/zz/a/drain"), null))
        {
            Assert.Equal(HttpStatusCode.NotFound, noCluster.StatusCode);
        }

        using (var get = await admin.GetAsync(new Uri(gw.AdminUrl, "/admin/destinations/c/a/drain")))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        }
    }

    [Fact]
    public async Task DrainingEveryDestinationAnswers503AndTheErrorsRingShowsIt()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(a.Address));
        using var admin = GatewayHost.CreateClient();
        using (var drain = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/destinations/c/d/drain"), null))
        {
            Assert.Equal(HttpStatusCode.OK, drain.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/x"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        using (var notFound = await gw.Client.GetAsync(gw.Combine("/y")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notFound.StatusCode);
        }

        using var errors = await admin.GetAsync(new Uri(gw.AdminUrl, "/admin/errors"));
        Assert.Equal(HttpStatusCode.OK, errors.StatusCode);
        using var json = JsonDocument.Parse(await errors.Content.ReadAsStringAsync());
        Assert.Equal(4, json.RootElement.GetProperty("total").GetInt64());
        var first = json.RootElement.GetProperty("errors")[0];
        Assert.Equal(503, first.GetProperty("status").GetInt32());
        Assert.Equal("no_healthy_destination", first.GetProperty("reason").GetString());
        Assert.Equal("all", first.GetProperty("route").GetString());
        Assert.Equal("c", first.GetProperty("cluster").GetString());
        Assert.Equal(0, a.Requests);
    }

    [Fact]
    public async Task ErrorsRingRecordsUpstreamFailuresWithDestination()
    {
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"http://127.0.0.1:{port}"));
        using (var response = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        using var admin = GatewayHost.CreateClient();
        using var json = JsonDocument.Parse(await admin.GetStringAsync(new Uri(gw.AdminUrl, "/admin/errors")));
        var e = json.RootElement.GetProperty("errors")[0];
        Assert.Equal(502, e.GetProperty("status").GetInt32());
        Assert.Equal("connection_refused", e.GetProperty("reason").GetString());
        Assert.Equal("d", e.GetProperty("destination").GetString());
        Assert.Equal("GET", e.GetProperty("method").GetString());
    }

    [Fact]
    public async Task RoutesListing()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        var yaml = $$"""
            routes:
              api:
                match: { pathPrefix: /api, methods: [GET, POST] }
                cluster: c
                timeout: 5s
              all:
                match: { path: "/{**rest}" }
                cluster: c
            clusters:
              c:
                destinations:
                  d: {{a.Address}}
            """;
        await using var gw = await GatewayHost.StartAsync(yaml);
        using var admin = GatewayHost.CreateClient();
        using var json = JsonDocument.Parse(await admin.GetStringAsync(new Uri(gw.AdminUrl, "/admin/routes")));
        var routes = json.RootElement.GetProperty("routes");
        Assert.Equal(2, routes.GetArrayLength());
        Assert.Equal("api", routes[0].GetProperty("id").GetString());
        Assert.Equal("c", routes[0].GetProperty("cluster").GetString());
        Assert.Equal("/api", routes[0].GetProperty("match").GetProperty("pathPrefix").GetString());
        Assert.Equal(["GET", "POST"], routes[0].GetProperty("match").GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(5, routes[0].GetProperty("timeoutSeconds").GetDouble());
        Assert.Equal("/{**rest}", routes[1].GetProperty("match").GetProperty("path").GetString());
    }

    [Fact]
    public async Task TokenGuardsNewEndpointsAndTheStreamAcceptsItInTheQuery()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(a.Address, top: "admin:\n  address: 127.0.0.1\n  port: 0\n  token: t0ken"));
        using var admin = GatewayHost.CreateClient();
        foreach (var path in new[] { "/admin/routes", "/admin/errors", "/admin/stream", "/admin/stream?token=wrong" })
        {
            using var response = await admin.GetAsync(new Uri(gw.AdminUrl, path));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using (var drain = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/destinations/c/d/drain"), null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, drain.StatusCode);
        }

        // The query token is accepted only by the stream.
        using (var routes = await admin.GetAsync(new Uri(gw.AdminUrl, "/admin/routes?token=t0ken")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, routes.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gw.AdminUrl, "/admin/routes")))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "t0ken");
            using var ok = await admin.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // The page itself carries no data and is served without the token.
        using (var page = await admin.GetAsync(new Uri(gw.AdminUrl, "/")))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains("dashboard.js", await page.Content.ReadAsStringAsync());
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var stream = await admin.GetAsync(new Uri(gw.AdminUrl, "/admin/stream?token=t0ken"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
        var data = await ReadEventAsync(reader, cts.Token);
        using var json = JsonDocument.Parse(data);
        Assert.Equal("d", json.RootElement.GetProperty("clusters")[0].GetProperty("destinations")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task StreamSendsOneEventPerSecondWithTheRequestsCounted()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(a.Address));
        using var admin = GatewayHost.CreateClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var stream = await admin.GetAsync(new Uri(gw.AdminUrl, "/admin/stream"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cts.Token));
        await ReadEventAsync(reader, cts.Token); // history

        await SendAsync(gw, 25);
        using (var missing = await gw.Client.GetAsync(gw.Combine("/")))
        {
            Assert.Equal(HttpStatusCode.OK, missing.StatusCode);
        }

        // The 26 requests fall into one or two seconds; count until they are all seen.
        long requests = 0, twoxx = 0;
        for (var i = 0; i < 5 && requests < 26; i++)
        {
            using var json = JsonDocument.Parse(await ReadEventAsync(reader, cts.Token));
            var seconds = json.RootElement.GetProperty("seconds");
            Assert.Equal(1, seconds.GetArrayLength());
            requests += seconds[0].GetProperty("requests").GetInt64();
            twoxx += seconds[0].GetProperty("status")[1].GetInt64();
            if (seconds[0].GetProperty("requests").GetInt64() > 0)
            {
                Assert.True(seconds[0].GetProperty("p50Ms").GetDouble() > 0);
                Assert.True(seconds[0].GetProperty("p99Ms").GetDouble() >= seconds[0].GetProperty("p50Ms").GetDouble());
            }
        }

        Assert.Equal(26, requests);
        Assert.Equal(26, twoxx);
    }

    private static async Task SendAsync(GatewayHost gw, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine($"/r{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    internal static async Task<string> ReadEventAsync(StreamReader reader, CancellationToken token)
    {
        while (true)
        {
            var line = await reader.ReadLineAsync(token) ?? throw new EndOfStreamException();
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                return line["data: ".Length..];
            }
        }
    }
}
