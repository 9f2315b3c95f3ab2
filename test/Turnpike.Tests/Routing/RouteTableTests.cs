using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Model;

namespace Turnpike.Tests.Routing;

public sealed class RouteTableTests
{
    private static GatewaySnapshot Build(string routes)
    {
        var yaml = $"listeners:\n  l: {{ port: 0 }}\nroutes:\n{routes}\nclusters:\n  c:\n    destinations:\n      d: http://127.0.0.1:1\n";
        var result = YamlConfigReader.Read(yaml, "t.yaml");
        Assert.Empty(result.Errors);
        using var services = new ServiceCollection().AddLogging().AddTurnpikeForwarding().AddSingleton<RuntimeModelBuilder>().BuildServiceProvider();
        return services.GetRequiredService<RuntimeModelBuilder>().Build(result.Config!, 1, "t.yaml");
    }

    private static string? Match(GatewaySnapshot snapshot, string path, string method = "GET", string host = "example.com", Action<HttpRequest>? configure = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.Host = new HostString(host);
        configure?.Invoke(context.Request);
        return snapshot.Routes.Match(context.Request)?.Id;
    }

    [Fact]
    public void MoreSpecificPathWinsAtEqualOrder()
    {
        var s = Build("""
              catchall: { match: { path: "/{**rest}" }, cluster: c }
              api: { match: { pathPrefix: /api }, cluster: c }
              apiv2: { match: { pathPrefix: /api/v2 }, cluster: c }
            """);
        Assert.Equal("apiv2", Match(s, "/api/v2/x"));
        Assert.Equal("api", Match(s, "/api/v1/x"));
        Assert.Equal("api", Match(s, "/api"));
        Assert.Equal("catchall", Match(s, "/apix"));
        Assert.Equal("catchall", Match(s, "/"));
    }

    [Fact]
    public void ExactDepthTemplateBeatsAShorterPrefix()
    {
        var s = Build("""
              prefix: { match: { pathPrefix: /users }, cluster: c }
              byid: { match: { path: "/users/{id}" }, cluster: c }
              deeper: { match: { pathPrefix: /users/admin }, cluster: c }
            """);
        Assert.Equal("byid", Match(s, "/users/42"));
        Assert.Equal("deeper", Match(s, "/users/admin"));
        Assert.Equal("prefix", Match(s, "/users/42/orders"));
        Assert.Equal("prefix", Match(s, "/users"));
    }

    [Fact]
    public void OrderBeatsSpecificity()
    {
        var s = Build("""
              first: { order: -1, match: { path: "/{**rest}" }, cluster: c }
              api: { match: { pathPrefix: /api }, cluster: c }
            """);
        Assert.Equal("first", Match(s, "/api/x"));
    }

    [Fact]
    public void EqualRoutesKeepFileOrder()
    {
        var s = Build("""
              one: { match: { pathPrefix: /x }, cluster: c }
              two: { match: { pathPrefix: /x }, cluster: c }
            """);
        Assert.Equal("one", Match(s, "/x"));
    }

    [Fact]
    public void MethodsHostsHeadersAndQueryNarrowTheMatch()
    {
        var s = Build("""
              post: { match: { pathPrefix: /a, methods: [POST] }, cluster: c }
              host: { match: { pathPrefix: /a, hosts: ["*.internal"] }, cluster: c }
              header: { match: { pathPrefix: /a, headers: [ { name: x-v, values: [beta], mode: prefix } ] }, cluster: c }
              query: { match: { pathPrefix: /a, query: [ { name: debug, values: ["1"] } ] }, cluster: c }
              absent: { match: { pathPrefix: /a, headers: [ { name: x-skip, mode: notExists } ] }, cluster: c }
              fallback: { match: { pathPrefix: /a }, cluster: c }
            """);
        Assert.Equal("post", Match(s, "/a", "POST"));
        Assert.Equal("host", Match(s, "/a", host: "svc.internal"));
        Assert.Equal("header", Match(s, "/a", configure: r => r.Headers["x-v"] = "BETA-2"));
        Assert.Equal("query", Match(s, "/a", configure: r => r.QueryString = new QueryString("?debug=1")));
        Assert.Equal("absent", Match(s, "/a"));
        Assert.Equal("fallback", Match(s, "/a", configure: r => r.Headers["x-skip"] = "1"));
    }

    [Fact]
    public void TemplateRoutesCaptureRouteValuesWhenATransformUsesThem()
    {
        var s = Build("""
              users: { match: { path: "/users/{id}" }, cluster: c, transforms: [ { pathPattern: "/u/{id}" } ] }
              files: { match: { path: "/files/{**rest}" }, cluster: c }
            """);
        var context = new DefaultHttpContext();
        context.Request.Path = "/users/42";
        Assert.Equal("users", s.Routes.Match(context.Request)?.Id);
        Assert.Equal("42", context.Request.RouteValues["id"]);
        context.Request.Path = "/users";
        Assert.Null(s.Routes.Match(context.Request));

        // No transform reads the catch-all's value, so nothing is captured (no allocation per request).
        var other = new DefaultHttpContext();
        other.Request.Path = "/files/a/b";
        Assert.Equal("files", s.Routes.Match(other.Request)?.Id);
        Assert.Empty(other.Request.RouteValues);
    }

    [Fact]
    public void HostOnlyRoutesMatchAnyPath()
    {
        var s = Build("""
              byhost: { match: { hosts: [api.example.com] }, cluster: c }
            """);
        Assert.Equal("byhost", Match(s, "/any/path", host: "api.example.com"));
        Assert.Null(Match(s, "/any/path", host: "other.example.com"));
    }
}
