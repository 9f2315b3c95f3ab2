using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.Cors;

namespace Turnpike.Tests.Cors;

public sealed class CorsPolicyTests
{
    private static readonly CorsPolicyConfig Web = new()
    {
        Name = "web",
        Origins = ["https://app.example.com", "https://*.example.com"],
        Methods = ["GET", "POST", "PUT"],
        Headers = ["content-type", "authorization"],
        ExposeHeaders = ["x-request-id", "x-total"],
        Credentials = true,
        MaxAge = TimeSpan.FromMinutes(10),
    };

    private static IHeaderDictionary Preflight(string origin, string method, string? headers = null)
    {
        var h = new HeaderDictionary { ["Origin"] = origin, ["Access-Control-Request-Method"] = method };
        if (headers is not null)
        {
            h["Access-Control-Request-Headers"] = headers;
        }

        return h;
    }

    [Theory]
    [InlineData("https://app.example.com", "PUT", "content-type,authorization", "Allowed")]
    [InlineData("https://x.example.com", "GET", null, "Allowed")]
    [InlineData("https://x.example.com", "POST", " Content-Type , AUTHORIZATION ", "Allowed")]
    [InlineData("https://x.example.com", "POST", "", "Allowed")]
    [InlineData("https://evil-example.com", "GET", null, "OriginNotAllowed")]
    [InlineData("https://app.example.com", "DELETE", null, "MethodNotAllowed")]
    [InlineData("https://app.example.com", "put", null, "MethodNotAllowed")]   // methods are case-sensitive
    [InlineData("https://app.example.com", "GET", "content-type,x-secret", "HeaderNotAllowed")]
    [InlineData("https://app.example.com", "GET", "content-typ", "HeaderNotAllowed")]
    public void EvaluatesOriginMethodAndEveryRequestedHeader(string origin, string method, string? headers, string expected) =>
        Assert.Equal(Enum.Parse<PreflightVerdict>(expected), new CorsPolicy(Web).Evaluate(Preflight(origin, method, headers)));

    [Fact]
    public void TwoOriginHeadersAreNotAllowed()
    {
        var h = Preflight("https://app.example.com", "GET");
        h["Origin"] = new(["https://app.example.com", "https://app.example.com"]);
        Assert.Equal(PreflightVerdict.OriginNotAllowed, new CorsPolicy(Web).Evaluate(h));
    }

    [Fact]
    public void AllowedPreflightGetsThePrecomputedHeadersAndTheOriginEchoed()
    {
        var request = Preflight("https://x.example.com", "PUT", "content-type");
        IHeaderDictionary response = new HeaderDictionary();
        new CorsPolicy(Web).WritePreflightHeaders(request, response);
        Assert.Equal("https://x.example.com", response.AccessControlAllowOrigin);
        Assert.Equal("true", response.AccessControlAllowCredentials);
        Assert.Equal("GET, POST, PUT", response.AccessControlAllowMethods);
        Assert.Equal("content-type, authorization", response.AccessControlAllowHeaders);
        Assert.Equal("600", response.AccessControlMaxAge);
        Assert.Contains("Origin", response.Vary.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, response.AccessControlExposeHeaders.Count); // only on actual responses
    }

    [Fact]
    public void AnyOriginWithoutCredentialsAnswersStarAndEchoesWildcardMethodsAndHeaders()
    {
        var policy = new CorsPolicy(new CorsPolicyConfig { Name = "open", Origins = ["*"], Methods = ["*"], Headers = ["*"] });
        Assert.False(policy.EchoesOrigin);
        var request = Preflight("https://whoever.test", "PATCH", "authorization, x-custom");
        Assert.Equal(PreflightVerdict.Allowed, policy.Evaluate(request));
        IHeaderDictionary response = new HeaderDictionary();
        policy.WritePreflightHeaders(request, response);
        Assert.Equal("*", response.AccessControlAllowOrigin);
        Assert.Equal("PATCH", response.AccessControlAllowMethods);
        Assert.Equal("authorization, x-custom", response.AccessControlAllowHeaders);
        Assert.Equal(0, response.AccessControlAllowCredentials.Count);
        Assert.Equal(0, response.AccessControlMaxAge.Count);
    }

    [Fact]
    public void ActualResponseOfAnAllowedOriginGetsTheHeadersAndUpstreamCorsHeadersAreReplaced()
    {
        IHeaderDictionary request = new HeaderDictionary { ["Origin"] = "https://app.example.com" };
        IHeaderDictionary response = new HeaderDictionary
        {
            ["Access-Control-Allow-Origin"] = "*",
            ["Access-Control-Allow-Methods"] = "DELETE",
            ["Access-Control-Max-Age"] = "99999",
            ["Vary"] = "Accept-Encoding",
        };
        new CorsPolicy(Web).ApplyToResponse(request, response);
        Assert.Equal("https://app.example.com", response.AccessControlAllowOrigin);
        Assert.Equal("true", response.AccessControlAllowCredentials);
        Assert.Equal("x-request-id, x-total", response.AccessControlExposeHeaders);
        Assert.Equal(0, response.AccessControlAllowMethods.Count);
        Assert.Equal(0, response.AccessControlMaxAge.Count);
        Assert.Equal("Accept-Encoding,Origin", response.Vary.ToString());
    }

    [Fact]
    public void DisallowedOriginGetsNoAllowOriginButStillVaryOrigin()
    {
        IHeaderDictionary request = new HeaderDictionary { ["Origin"] = "https://evil-example.com" };
        IHeaderDictionary response = new HeaderDictionary { ["Access-Control-Allow-Origin"] = "https://evil-example.com", ["Vary"] = "origin" };
        new CorsPolicy(Web).ApplyToResponse(request, response);
        Assert.False(response.ContainsKey("Access-Control-Allow-Origin"));
        Assert.False(response.ContainsKey("Access-Control-Allow-Credentials"));
        Assert.False(response.ContainsKey("Access-Control-Expose-Headers"));
        Assert.Equal("origin", response.Vary); // already there, not added twice
    }

    [Fact]
    public void RequestWithoutOriginGetsOnlyVary()
    {
        IHeaderDictionary response = new HeaderDictionary();
        new CorsPolicy(Web).ApplyToResponse(new HeaderDictionary(), response);
        Assert.Equal("Origin", response.Vary);
        Assert.Single(response);
    }

    [Theory]
    [InlineData("OPTIONS", true, true, true)]
    [InlineData("OPTIONS", true, false, false)]  // plain OPTIONS: the upstream's business
    [InlineData("OPTIONS", false, true, false)]
    [InlineData("GET", true, true, false)]
    public void PreflightIsOptionsWithOriginAndRequestMethod(string method, bool origin, bool requestMethod, bool expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        if (origin)
        {
            context.Request.Headers.Origin = "https://app.example.com";
        }

        if (requestMethod)
        {
            context.Request.Headers.AccessControlRequestMethod = "GET";
        }

        Assert.Equal(expected, CorsPolicy.IsPreflight(context.Request));
    }
}
