using Turnpike.Configuration;

namespace Turnpike.Tests.Cors;

public sealed class CorsConfigTests
{
    private static ConfigLoadResult Read(string top, string routeExtra = "cors: web") =>
        YamlConfigReader.Read(
            $"listeners: {{ l: {{ port: 0 }} }}\n{top}\nroutes:\n  r:\n    match: {{ path: \"/{{**rest}}\" }}\n    cluster: c\n    {routeExtra}\nclusters:\n  c:\n    destinations: {{ d: 'http://127.0.0.1:1' }}\n",
            "cors.yaml");

    [Fact]
    public void ReadsEveryKey()
    {
        var result = Read("""
            corsPolicies:
              web:
                origins: ["https://app.example.com:443", "https://*.Example.com", "http://localhost:3000"]
                methods: [GET, POST, PUT, PROPFIND]
                headers: [Content-Type, authorization]
                exposeHeaders: x-request-id
                credentials: true
                maxAge: 10m
            """);
        Assert.Empty(result.Errors);
        var p = result.Config!.CorsPolicies.Single();
        Assert.Equal("web", p.Name);
        Assert.Equal(["https://app.example.com", "https://*.example.com", "http://localhost:3000"], p.Origins);
        Assert.Equal(["GET", "POST", "PUT", "PROPFIND"], p.Methods);
        Assert.Equal(["content-type", "authorization"], p.Headers);
        Assert.Equal(["x-request-id"], p.ExposeHeaders);
        Assert.True(p.Credentials);
        Assert.Equal(TimeSpan.FromMinutes(10), p.MaxAge);
        Assert.Equal(("cors.yaml", 3), (p.Location.File, p.Location.Line));
        Assert.Equal("web", result.Config.Routes[0].Cors);
    }

    [Fact]
    public void Defaults()
    {
        var result = Read("corsPolicies:\n  web: { origins: \"*\" }");
        Assert.Empty(result.Errors);
        var p = result.Config!.CorsPolicies.Single();
        Assert.Equal(["*"], p.Origins);
        Assert.Equal(["GET", "HEAD", "POST"], p.Methods);
        Assert.Empty(p.Headers);
        Assert.Empty(p.ExposeHeaders);
        Assert.False(p.Credentials);
        Assert.Null(p.MaxAge);
    }

    [Fact]
    public void RoutesWithoutCorsHaveNone()
    {
        var result = Read("corsPolicies:\n  web: { origins: \"*\" }", "order: 0");
        Assert.Empty(result.Errors);
        Assert.Null(result.Config!.Routes[0].Cors);
    }

    [Theory]
    [InlineData("corsPolicies:\n  web: { origins: '*' }", "cors: wbe", "routes.r.cors", 8, "CORS policy 'wbe' is not defined in corsPolicies; did you mean 'web'?")]
    [InlineData("corsPolicies:\n  web: { origins: '*' }", "cors: [web]", "routes.r.cors", 8, "must be a string")]
    [InlineData("corsPolicies:\n  web: { methods: [GET] }", "cors: web", "corsPolicies.web.origins", 3, "is required")]
    [InlineData("corsPolicies:\n  web: { origins: [] }", "cors: web", "corsPolicies.web.origins", 3, "at least one origin")]
    [InlineData("corsPolicies:\n  web: { origins: ['https://a.example.com/'] }", "cors: web", "corsPolicies.web.origins", 3, "did you mean 'https://a.example.com'?")]
    [InlineData("corsPolicies:\n  web: { origins: [a.example.com] }", "cors: web", "corsPolicies.web.origins", 3, "scheme://host[:port]")]
    [InlineData("corsPolicies:\n  web: { origins: ['https://a.*.example.com'] }", "cors: web", "corsPolicies.web.origins", 3, "'*' may only stand for the subdomain")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], credentials: true }", "cors: web", "corsPolicies.web.origins", 3, "'*' cannot be combined with credentials: true")]
    [InlineData("corsPolicies:\n  web: { origins: ['https://a.test'], headers: ['*'], credentials: true }", "cors: web", "corsPolicies.web.headers", 3, "'*' cannot be combined with credentials")]
    [InlineData("corsPolicies:\n  web: { origins: ['https://a.test'], exposeHeaders: ['*'], credentials: true }", "cors: web", "corsPolicies.web.exposeHeaders", 3, "'*' cannot be combined with credentials")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], methods: [GTE] }", "cors: web", "corsPolicies.web.methods", 3, "'GTE' is not an HTTP method (methods are case-sensitive: GET, POST, PUT, DELETE, PATCH …); did you mean 'GET'?")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], methods: [get] }", "cors: web", "corsPolicies.web.methods", 3, "did you mean 'GET'?")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], methods: ['GET POST'] }", "cors: web", "corsPolicies.web.methods", 3, "is not an HTTP method")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], headers: ['x a'] }", "cors: web", "corsPolicies.web.headers", 3, "'x a' is not a header name")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], maxAge: 2d }", "cors: web", "corsPolicies.web.maxAge", 3, "not a valid duration")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], maxAge: 25h }", "cors: web", "corsPolicies.web.maxAge", 3, "must not exceed 24h")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'], credential: true }", "cors: web", "corsPolicies.web.credential", 3, "did you mean 'credentials'?")]
    [InlineData("corsPolicy:\n  web: { origins: ['*'] }", "order: 0", "corsPolicy", 2, "did you mean 'corsPolicies'?")]
    [InlineData("corsPolicies:\n  web: { origins: ['*'] }", "corz: web", "routes.r.corz", 8, "did you mean 'cors'?")]
    [InlineData("corsPolicies:\n  web: https://a.test", "order: 0", "corsPolicies.web", 3, "must be a mapping")]
    public void ErrorsNameFileLineAndField(string top, string routeExtra, string field, int line, string message)
    {
        var result = Read(top, routeExtra);
        var error = Assert.Single(result.Errors);
        Assert.Equal(("cors.yaml", field, line), (error.File, error.Field, error.Line));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryBadOriginIsReportedAtItsOwnPosition()
    {
        var result = Read("""
            corsPolicies:
              web:
                origins:
                  - https://ok.example.com
                  - https://bad.example.com/
                  - ftp//nope
            """);
        Assert.Equal([6, 7], result.Errors.Select(e => e.Line));
        Assert.All(result.Errors, e => Assert.Equal("corsPolicies.web.origins", e.Field));
    }
}
