using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>
/// CORS through the real gateway and a real backend that counts requests and sends CORS headers of its own (which a
/// route with a policy must replace): preflights answered at the gateway, actual responses and the gateway's own
/// errors carrying the headers for an allowed origin only.
/// </summary>
public sealed class CorsTests
{
    private const string App = "https://app.example.com";

    private static Task<TestBackend> StartBackendAsync() => TestBackend.StartAsync(async context =>
    {
        // An upstream with a CORS opinion of its own: the gateway owns CORS on routes with a policy.
        context.Response.Headers.AccessControlAllowOrigin = "*";
        context.Response.Headers.AccessControlAllowMethods = "DELETE";
        context.Response.Headers.Vary = "Accept-Encoding";
        context.Response.Headers["x-request-id"] = "42";
        context.Response.Headers["x-method"] = context.Request.Method;
        await context.Response.WriteAsync("ok");
    });

    private static string Config(string backend, int deadPort, string top = "") => $$"""
        {{top}}
        corsPolicies:
          web:
            origins: ["{{App}}", "https://*.example.com"]
            methods: [GET, POST, PUT]
            headers: [content-type, authorization]
            exposeHeaders: [x-request-id]
            credentials: true
            maxAge: 10m
          open:
            origins: "*"
        rateLimits:
          one: { algorithm: fixedWindow, limit: 1, period: 1h }
        routes:
          api:
            match: { pathPrefix: /api }
            cluster: c
            cors: web
          create:
            match: { path: /orders, methods: [POST] }
            cluster: c
            cors: web
          down:
            match: { pathPrefix: /down }
            cluster: dead
            cors: web
          limited:
            match: { pathPrefix: /limited }
            cluster: c
            cors: web
            rateLimit: one
          public:
            match: { pathPrefix: /public }
            cluster: c
            cors: open
          plain:
            match: { pathPrefix: /plain }
            cluster: c
        clusters:
          c:
            destinations: { d: {{backend}} }
          dead:
            destinations: { d: "http://127.0.0.1:{{deadPort}}" }
        """;

    private sealed class Fixture : IAsyncDisposable
    {
        private readonly IDisposable _hold;

        private Fixture(TestBackend backend, GatewayHost gateway, IDisposable hold)
        {
            Backend = backend;
            Gateway = gateway;
            _hold = hold;
        }

        public TestBackend Backend { get; }

        public GatewayHost Gateway { get; }

        public static async Task<Fixture> StartAsync(string top = "")
        {
            var backend = await StartBackendAsync();
            var (deadPort, hold) = Configs.RefusingPort();
            var gateway = await GatewayHost.StartAsync(Config(backend.Address, deadPort, top));
            return new Fixture(backend, gateway, hold);
        }

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? origin, string? requestMethod = null, string? requestHeaders = null)
        {
            using var request = new HttpRequestMessage(method, Gateway.Combine(path));
            if (origin is not null)
            {
                request.Headers.TryAddWithoutValidation("Origin", origin);
            }

            if (requestMethod is not null)
            {
                request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", requestMethod);
            }

            if (requestHeaders is not null)
            {
                request.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", requestHeaders);
            }

            return await Gateway.Client.SendAsync(request);
        }

        public Task<HttpResponseMessage> PreflightAsync(string path, string origin, string method, string? headers = null) =>
            SendAsync(HttpMethod.Options, path, origin, method, headers);

        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            await Backend.DisposeAsync();
            _hold.Dispose();
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join("|", values) : null;

    [Fact]
    public async Task PreflightIsAnsweredAtTheGatewayWithoutAnUpstreamRequest()
    {
        await using var f = await Fixture.StartAsync();
        foreach (var origin in new[] { App, "https://tenant-7.eu.example.com" })
        {
            using var response = await f.PreflightAsync("/api/items", origin, "PUT", "content-type,authorization");
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
            Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
            Assert.Equal("GET, POST, PUT", Header(response, "Access-Control-Allow-Methods"));
            Assert.Equal("content-type, authorization", Header(response, "Access-Control-Allow-Headers"));
            Assert.Equal("600", Header(response, "Access-Control-Max-Age"));
            Assert.Contains("Origin", response.Headers.Vary);
            Assert.Null(Header(response, "Access-Control-Expose-Headers"));
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(0, f.Backend.Requests);
    }

    [Theory]
    [InlineData("https://evil-example.com", "GET", null)]        // not a subdomain of example.com
    [InlineData("https://example.com", "GET", null)]             // the bare domain is not listed
    [InlineData("http://app.example.com", "GET", null)]          // another scheme
    [InlineData(App, "DELETE", null)]                           // method not allowed
    [InlineData(App, "POST", "content-type,x-secret")]          // one header not allowed
    public async Task DisallowedPreflightIs403WithoutAllowOriginAndNeverReachesTheUpstream(string origin, string method, string? headers)
    {
        await using var f = await Fixture.StartAsync();
        using var response = await f.PreflightAsync("/api/items", origin, method, headers);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("cors_rejected", Header(response, "x-turnpike-error"));
        Assert.Null(Header(response, "Access-Control-Allow-Origin"));
        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
        Assert.Null(Header(response, "Access-Control-Allow-Methods"));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("cors_rejected", body.RootElement.GetProperty("error").GetString());
        Assert.Equal(0, f.Backend.Requests);
    }

    [Fact]
    public async Task RouteThatOnlyAllowsPostStillGetsItsPreflightAnswered()
    {
        await using var f = await Fixture.StartAsync();
        using (var preflight = await f.PreflightAsync("/orders", App, "POST", "content-type"))
        {
            Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
            Assert.Equal(App, Header(preflight, "Access-Control-Allow-Origin"));
        }

        Assert.Equal(0, f.Backend.Requests);

        // A preflight for a method the route does not take matches no route, as the request itself would not.
        using (var other = await f.PreflightAsync("/orders", App, "PUT"))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }

        using (var post = await f.SendAsync(HttpMethod.Post, "/orders", App))
        {
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            Assert.Equal(App, Header(post, "Access-Control-Allow-Origin"));
        }

        Assert.Equal(1, f.Backend.Requests);
    }

    [Fact]
    public async Task AllowedOriginGetsTheHeadersOnTheUpstreamsResponseWhichLosesItsOwn()
    {
        await using var f = await Fixture.StartAsync();
        using var response = await f.SendAsync(HttpMethod.Get, "/api/items", App);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(App, Header(response, "Access-Control-Allow-Origin")); // one value: the upstream's "*" is gone
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Equal("x-request-id", Header(response, "Access-Control-Expose-Headers"));
        Assert.Null(Header(response, "Access-Control-Allow-Methods"));
        Assert.Equal(["Accept-Encoding", "Origin"], response.Headers.Vary);
        Assert.Equal(1, f.Backend.Requests);
    }

    [Fact]
    public async Task DisallowedOriginIsForwardedButGetsNoAllowOrigin()
    {
        await using var f = await Fixture.StartAsync();
        using var response = await f.SendAsync(HttpMethod.Get, "/api/items", "https://evil-example.com");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(Header(response, "Access-Control-Allow-Origin"));
        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
        Assert.Null(Header(response, "Access-Control-Expose-Headers"));
        Assert.Null(Header(response, "Access-Control-Allow-Methods"));
        Assert.Contains("Origin", response.Headers.Vary);
        Assert.Equal(1, f.Backend.Requests); // the browser enforces CORS; the gateway only withholds the grant

        using var noOrigin = await f.SendAsync(HttpMethod.Get, "/api/items", origin: null);
        Assert.Null(Header(noOrigin, "Access-Control-Allow-Origin"));
        Assert.Contains("Origin", noOrigin.Headers.Vary);
    }

    [Fact]
    public async Task TheGatewaysOwnErrorsCarryTheHeadersSoThePageCanReadThem()
    {
        await using var f = await Fixture.StartAsync();
        using (var refused = await f.SendAsync(HttpMethod.Get, "/down", App))
        {
            Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
            Assert.Equal("connection_refused", Header(refused, "x-turnpike-error"));
            Assert.Equal(App, Header(refused, "Access-Control-Allow-Origin"));
            Assert.Equal("true", Header(refused, "Access-Control-Allow-Credentials"));
        }

        // Preflights are answered before the rate limit (limit 1 per hour): they take nothing from it.
        for (var i = 0; i < 3; i++)
        {
            using var preflight = await f.PreflightAsync("/limited", App, "GET");
            Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        }

        using (var first = await f.SendAsync(HttpMethod.Get, "/limited", App))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var limited = await f.SendAsync(HttpMethod.Get, "/limited", App))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.NotNull(limited.Headers.RetryAfter);
            Assert.Equal(App, Header(limited, "Access-Control-Allow-Origin"));
            Assert.Equal("true", Header(limited, "Access-Control-Allow-Credentials"));
        }

        using (var evil = await f.SendAsync(HttpMethod.Get, "/down", "https://evil.test"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, evil.StatusCode);
            Assert.Null(Header(evil, "Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task AnyOriginWithoutCredentialsAnswersStar()
    {
        await using var f = await Fixture.StartAsync();
        using (var response = await f.SendAsync(HttpMethod.Get, "/public/x", "https://whoever.test"))
        {
            Assert.Equal("*", Header(response, "Access-Control-Allow-Origin"));
            Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
            Assert.Null(Header(response, "Access-Control-Allow-Methods")); // the upstream's, replaced
            Assert.Equal(["Accept-Encoding"], response.Headers.Vary); // the same answer for every origin
        }

        using (var preflight = await f.PreflightAsync("/public/x", "https://whoever.test", "POST"))
        {
            Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
            Assert.Equal("*", Header(preflight, "Access-Control-Allow-Origin"));
            Assert.Null(Header(preflight, "Access-Control-Max-Age"));
        }

        Assert.Equal(1, f.Backend.Requests);
    }

    [Fact]
    public async Task WithoutAPolicyPreflightsAndUpstreamHeadersPassThrough()
    {
        await using var f = await Fixture.StartAsync();
        using (var preflight = await f.PreflightAsync("/plain/x", App, "PUT"))
        {
            Assert.Equal(HttpStatusCode.OK, preflight.StatusCode);
            Assert.Equal("OPTIONS", Header(preflight, "x-method"));
            Assert.Equal("*", Header(preflight, "Access-Control-Allow-Origin"));
        }

        // A plain OPTIONS (no Access-Control-Request-Method) on a CORS route is an ordinary request too.
        using (var options = await f.SendAsync(HttpMethod.Options, "/api/x", App))
        {
            Assert.Equal(HttpStatusCode.OK, options.StatusCode);
            Assert.Equal("OPTIONS", Header(options, "x-method"));
            Assert.Equal(App, Header(options, "Access-Control-Allow-Origin"));
        }

        Assert.Equal(2, f.Backend.Requests);
    }

    [Fact]
    public async Task ReloadSwapsThePolicy()
    {
        await using var backend = await StartBackendAsync();
        var (deadPort, hold) = Configs.RefusingPort();
        using var _ = hold;
        var config = Config(backend.Address, deadPort);
        await using var gw = await GatewayHost.StartAsync(config);

        async Task<string?> AllowOrigin(string origin)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/api/x"));
            request.Headers.TryAddWithoutValidation("Origin", origin);
            using var response = await gw.Client.SendAsync(request);
            return Header(response, "Access-Control-Allow-Origin");
        }

        Assert.Equal(App, await AllowOrigin(App));
        Assert.Null(await AllowOrigin("https://new.test"));

        await gw.WriteConfigAsync(config.Replace($"origins: [\"{App}\", \"https://*.example.com\"]", "origins: [\"https://new.test\"]", StringComparison.Ordinal));
        using (var reload = await gw.Client.PostAsync(new Uri(gw.AdminUrl, "/admin/reload"), null))
        {
            Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        }

        Assert.Equal("https://new.test", await AllowOrigin("https://new.test"));
        Assert.Null(await AllowOrigin(App));
    }

    [Fact]
    public async Task PreflightsAreAccessLogged()
    {
        var logPath = Path.Combine(Path.GetTempPath(), $"turnpike-cors-access-{Guid.NewGuid():N}.log");
        try
        {
            await using (var f = await Fixture.StartAsync($"logging:\n  accessLog: {{ enabled: true, path: {logPath} }}"))
            {
                using (var allowed = await f.PreflightAsync("/api/x", App, "GET"))
                {
                    Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
                    Assert.Equal(App, Header(allowed, "Access-Control-Allow-Origin"));
                }

                using (var refused = await f.PreflightAsync("/api/x", "https://evil.test", "GET"))
                {
                    Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
                }

                Assert.Equal(0, f.Backend.Requests);
            }

            var lines = (await File.ReadAllLinesAsync(logPath)).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
            Assert.Equal([204, 403], lines.Select(l => l.GetProperty("status").GetInt32()));
            Assert.All(lines, l => Assert.Equal("api", l.GetProperty("route").GetString()));
            Assert.All(lines, l => Assert.Equal("OPTIONS", l.GetProperty("method").GetString()));
        }
        finally
        {
            File.Delete(logPath);
        }
    }
}
