using System.Net;
using System.Net.Http.Headers;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>
/// CORS and authentication on one route: a browser's preflight carries no credentials, so it is answered before the
/// auth step (no 401, nothing upstream); the 401 of an actual request without a token still carries the CORS headers,
/// so the page can read it. Both are counted in the request metrics, the 401 also by scheme and reason.
/// </summary>
public sealed class CorsAuthTests
{
    private const string Secret = "a-shared-secret-of-at-least-32-bytes!!";
    private const string App = "https://app.example.com";

    private static string Config(string backend) => $$"""
        authSchemes:
          users: { type: jwt, secret: "{{Secret}}" }
        corsPolicies:
          web:
            origins: ["{{App}}"]
            methods: [GET]
            headers: [authorization]
            credentials: true
        routes:
          api:
            match: { pathPrefix: /api }
            cluster: c
            cors: web
            auth: { schemes: [users] }
        clusters:
          c:
            destinations: { d: {{backend}} }
        """;

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join("|", values) : null;

    private static HttpRequestMessage Request(GatewayHost gw, HttpMethod method, string? token = null)
    {
        var request = new HttpRequestMessage(method, gw.Combine("/api/items"));
        request.Headers.TryAddWithoutValidation("Origin", App);
        if (method == HttpMethod.Options)
        {
            request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "GET");
            request.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "authorization");
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    [Fact]
    public async Task PreflightSkipsAuthAndA401CarriesTheCorsHeaders()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Config(backend.Address));

        using (var preflight = await gw.Client.SendAsync(Request(gw, HttpMethod.Options)))
        {
            Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
            Assert.Equal(App, Header(preflight, "Access-Control-Allow-Origin"));
            Assert.Null(Header(preflight, "WWW-Authenticate"));
        }

        using (var anonymous = await gw.Client.SendAsync(Request(gw, HttpMethod.Get)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.StartsWith("Bearer", Header(anonymous, "WWW-Authenticate"), StringComparison.Ordinal);
            Assert.Equal(App, Header(anonymous, "Access-Control-Allow-Origin"));
            Assert.Equal("true", Header(anonymous, "Access-Control-Allow-Credentials"));
        }

        Assert.Equal(0, backend.Requests);

        using var authorized = await gw.Client.SendAsync(Request(gw, HttpMethod.Get, TestIssuer.Mint(IssuerKey.NewHmac(Secret))));
        Assert.Equal(HttpStatusCode.OK, authorized.StatusCode);
        Assert.Equal(App, Header(authorized, "Access-Control-Allow-Origin"));
        Assert.Equal(1, backend.Requests);

        // Every request on the route is counted (the preflight, the 401 and the 200), and the 401 by scheme and reason.
        var metrics = await PrometheusText.ScrapeAsync(gw.Client, new Uri(gw.AdminUrl, "/metrics"));
        Assert.Equal(1, metrics.Value("turnpike_requests_total", ("route", "api"), ("method", "OPTIONS"), ("status_class", "2xx")));
        Assert.Equal(1, metrics.Value("turnpike_requests_total", ("route", "api"), ("method", "GET"), ("status_class", "4xx")));
        Assert.Equal(1, metrics.Value("turnpike_requests_total", ("route", "api"), ("method", "GET"), ("status_class", "2xx")));
        Assert.Equal(1, metrics.Value("turnpike_auth_failures_total", ("scheme", "users"), ("reason", "missing_credentials")));
        Assert.Equal(1, metrics.Value("turnpike_auth_successes_total", ("scheme", "users")));
    }
}
