using System.Net;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Each route matcher, end to end: a request reaches the backend of the route that should match it.</summary>
public sealed class RoutingTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        var names = new[] { "template", "prefix", "wildcard-host", "exact-host", "post-only", "header", "query", "ordered", "fallback" };
        foreach (var name in names)
        {
            _backends.Add(await TestBackend.StartEchoAsync(name));
        }

        var clusters = string.Join("\n", names.Select((n, i) => $"  {n}:\n    destinations:\n      d: {_backends[i].Address}"));
        _gateway = await GatewayHost.StartAsync($$"""
            routes:
              template:
                match: { path: "/users/{id}/profile" }
                cluster: template
              prefix:
                match: { pathPrefix: /static }
                cluster: prefix
              wildcard-host:
                match: { hosts: ["*.tenants.test"], pathPrefix: /t }
                cluster: wildcard-host
              exact-host:
                match: { hosts: ["admin.test"], pathPrefix: /t }
                cluster: exact-host
              post-only:
                match: { pathPrefix: /orders, methods: [POST, PUT] }
                cluster: post-only
              header:
                match:
                  pathPrefix: /orders
                  headers:
                    - name: x-canary
                      values: ["yes", "true"]
                cluster: header
              query:
                match:
                  pathPrefix: /orders
                  query:
                    - name: version
                      values: ["2"]
                cluster: query
              ordered:
                order: -10
                match: { pathPrefix: /static/special }
                cluster: ordered
              fallback:
                order: 100
                match: { path: "/{**rest}" }
                cluster: fallback
            clusters:
            {{clusters}}
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        foreach (var b in _backends)
        {
            await b.DisposeAsync();
        }
    }

    private async Task<string> BackendFor(HttpMethod method, string path, string? host = null, (string, string)? header = null)
    {
        using var request = new HttpRequestMessage(method, _gateway.Combine(path));
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (header is { } h)
        {
            request.Headers.Add(h.Item1, h.Item2);
        }

        using var response = await _gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("x-backend").Single();
    }

    [Theory]
    [InlineData("/users/42/profile", "template")]
    [InlineData("/users/42/settings", "fallback")]
    [InlineData("/users//profile", "fallback")]
    [InlineData("/static", "prefix")]
    [InlineData("/static/app.js", "prefix")]
    [InlineData("/staticfile", "fallback")]
    [InlineData("/static/special/x", "ordered")]
    public async Task PathTemplatesPrefixesAndOrder(string path, string expected) =>
        Assert.Equal(expected, await BackendFor(HttpMethod.Get, path));

    [Theory]
    [InlineData("a.tenants.test", "wildcard-host")]
    [InlineData("deep.a.tenants.test:8443", "wildcard-host")]
    [InlineData("tenants.test", "fallback")]
    [InlineData("admin.test", "exact-host")]
    [InlineData("ADMIN.test", "exact-host")]
    [InlineData("other.test", "fallback")]
    public async Task Hosts(string host, string expected) =>
        Assert.Equal(expected, await BackendFor(HttpMethod.Get, "/t/x", host));

    [Fact]
    public async Task MethodsHeadersAndQuery()
    {
        Assert.Equal("post-only", await BackendFor(HttpMethod.Post, "/orders"));
        Assert.Equal("post-only", await BackendFor(HttpMethod.Put, "/orders/1"));
        Assert.Equal("header", await BackendFor(HttpMethod.Get, "/orders", header: ("x-canary", "YES")));
        Assert.Equal("fallback", await BackendFor(HttpMethod.Get, "/orders", header: ("x-canary", "no")));
        Assert.Equal("query", await BackendFor(HttpMethod.Get, "/orders?version=2"));
        Assert.Equal("fallback", await BackendFor(HttpMethod.Get, "/orders?version=3"));
        Assert.Equal("fallback", await BackendFor(HttpMethod.Get, "/orders"));
    }
}
