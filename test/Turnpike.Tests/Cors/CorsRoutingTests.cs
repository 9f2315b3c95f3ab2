using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Model;

namespace Turnpike.Tests.Cors;

/// <summary>A preflight (OPTIONS) must find the route its Access-Control-Request-Method would match.</summary>
public sealed class CorsRoutingTests
{
    private static GatewaySnapshot Build(string routes)
    {
        var yaml = $"listeners:\n  l: {{ port: 0 }}\ncorsPolicies:\n  web: {{ origins: ['https://app.example.com'], methods: [GET, POST, DELETE] }}\nroutes:\n{routes}\nclusters:\n  c:\n    destinations:\n      d: http://127.0.0.1:1\n";
        var result = YamlConfigReader.Read(yaml, "t.yaml");
        Assert.Empty(result.Errors);
        using var services = new ServiceCollection().AddLogging().AddTurnpikeForwarding().AddSingleton<RuntimeModelBuilder>().BuildServiceProvider();
        return services.GetRequiredService<RuntimeModelBuilder>().Build(result.Config!, 1, "t.yaml");
    }

    private static RouteModel? Match(GatewaySnapshot snapshot, string method, string? requestMethod, string path = "/orders", bool origin = true)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.Host = new HostString("gw.test");
        if (origin)
        {
            context.Request.Headers.Origin = "https://app.example.com";
        }

        if (requestMethod is not null)
        {
            context.Request.Headers.AccessControlRequestMethod = requestMethod;
        }

        return snapshot.Routes.Match(context.Request);
    }

    private const string Routes = """
          create: { match: { path: /orders, methods: [POST] }, cluster: c, cors: web }
          remove: { match: { path: /orders, methods: [DELETE] }, cluster: c }
          read:   { match: { path: /orders, methods: [GET] }, cluster: c, cors: web }
        """;

    [Fact]
    public void PreflightMatchesTheRouteOfTheRequestedMethod()
    {
        var s = Build(Routes);
        Assert.Equal("create", Match(s, "OPTIONS", "POST")?.Id);
        Assert.Equal("read", Match(s, "OPTIONS", "GET")?.Id);
        Assert.NotNull(Match(s, "OPTIONS", "POST")!.Cors);
    }

    [Fact]
    public void OnlyRoutesWithAPolicyMatchPreflightsByTheRequestedMethod()
    {
        var s = Build(Routes);
        Assert.Null(Match(s, "OPTIONS", "DELETE"));      // "remove" has no cors: its methods mean what they say
        Assert.Null(Match(s, "OPTIONS", "PUT"));
    }

    [Fact]
    public void NonPreflightOptionsAndOtherMethodsMatchAsBefore()
    {
        var s = Build(Routes);
        Assert.Null(Match(s, "OPTIONS", null));           // plain OPTIONS
        Assert.Null(Match(s, "OPTIONS", "POST", origin: false));
        Assert.Equal("create", Match(s, "POST", null)?.Id);
        Assert.Equal("remove", Match(s, "DELETE", "GET")?.Id);
        Assert.Null(Match(s, "PUT", "POST"));             // not OPTIONS: no preflight
    }

    [Fact]
    public void RoutesWithoutMethodsTakeThePreflightDirectly()
    {
        var s = Build("  any: { match: { pathPrefix: /orders }, cluster: c, cors: web }\n  plain: { match: { pathPrefix: /other }, cluster: c }");
        Assert.Equal("any", Match(s, "OPTIONS", "PATCH")?.Id);
        Assert.Null(Match(s, "OPTIONS", "GET", "/other")!.Cors);
    }
}
