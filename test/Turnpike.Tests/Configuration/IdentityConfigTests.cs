using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class IdentityConfigTests
{
    private const string Secret = "0123456789abcdef0123456789abcdef";

    private static ConfigLoadResult Read(string schemes, string auth = "auth: { schemes: [s] }", string top = "") =>
        YamlConfigReader.Read(
            $"listeners: {{ l: {{ port: 0 }} }}\n{top}\nauthSchemes:\n{schemes}\nroutes:\n  r:\n    match: {{ path: \"/{{**rest}}\" }}\n    cluster: c\n    {auth}\nclusters:\n  c:\n    destinations: {{ d: 'http://127.0.0.1:1' }}\n",
            "id.yaml");

    [Fact]
    public void ReadsAJwtSchemeAndARouteAuthBlock()
    {
        var result = Read(
            """
              s:
                type: jwt
                issuer: https://issuer.example
                audiences: [orders-api]
                algorithms: [RS256, ES256]
                jwksUrl: https://issuer.example/.well-known/jwks.json
                refreshInterval: 10m
                minRefreshInterval: 30s
                clockSkew: 0s
                requiredClaims: [sub]
                requireExpiration: false
                validTypes: [JWT, at+jwt]
                tokenCache: { maxEntries: 500, ttl: 1m }
            """,
            """
            auth:
                  schemes: [s]
                  require:
                    scopes: { any: [orders.read], all: [x] }
                    roles: { all: [admin] }
                    claims: { tenant: { prefix: "acme-" }, email: { regex: "@example\\.com$" }, plan: { exact: gold } }
                  forwardClaims: { x-user-id: sub, x-tenant: tenant }
                  keepAuthorization: true
            """);
        Assert.Empty(result.Errors);
        var s = Assert.Single(result.Config!.AuthSchemes);
        Assert.Equal(AuthSchemeKind.Jwt, s.Type);
        var j = s.Jwt!;
        Assert.Equal(("https://issuer.example", "https://issuer.example/.well-known/jwks.json"), (j.Issuer, j.JwksUrl));
        Assert.Equal(["orders-api"], j.Audiences);
        Assert.Equal(["RS256", "ES256"], j.Algorithms);
        Assert.Equal((TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(30), TimeSpan.Zero), (j.RefreshInterval, j.MinRefreshInterval, j.ClockSkew));
        Assert.False(j.RequireExpiration);
        Assert.Equal(["JWT", "at+jwt"], j.ValidTypes);
        Assert.Equal((500, TimeSpan.FromMinutes(1)), (j.TokenCacheMaxEntries, j.TokenCacheTtl));
        var auth = result.Config.Routes[0].Auth!;
        Assert.Equal(["s"], auth.Schemes);
        Assert.Equal(["orders.read"], auth.Require.Scopes!.Any);
        Assert.Equal(["admin"], auth.Require.Roles!.All);
        Assert.Equal(
            [new ClaimRequirementConfig("tenant", ClaimMatchMode.Prefix, "acme-"), new ClaimRequirementConfig("email", ClaimMatchMode.Regex, "@example\\.com$"), new ClaimRequirementConfig("plan", ClaimMatchMode.Exact, "gold")],
            auth.Require.Claims);
        Assert.Equal([new ForwardClaimConfig("x-user-id", "sub"), new ForwardClaimConfig("x-tenant", "tenant")], auth.ForwardClaims);
        Assert.True(auth.KeepAuthorization);
    }

    [Fact]
    public void DefaultsAreAsymmetricAlgorithmsAndSecretSchemesDefaultToHs256()
    {
        var result = Read($"  s: {{ type: jwt, issuer: i, jwksUrl: 'https://x/jwks' }}\n  h: {{ type: jwt, secret: \"{Secret}\" }}\n  k: {{ type: apiKey, keys: {{ acme: 'abcdefghijklmnop' }} }}");
        Assert.Empty(result.Errors);
        var schemes = result.Config!.AuthSchemes;
        Assert.Equal(JwtSchemeConfig.DefaultAlgorithms, schemes[0].Jwt!.Algorithms);
        Assert.DoesNotContain(schemes[0].Jwt!.Algorithms, a => a.StartsWith("HS", StringComparison.Ordinal));
        Assert.Equal(["HS256"], schemes[1].Jwt!.Algorithms);
        Assert.Equal("x-api-key", schemes[2].ApiKey!.Header);
        Assert.Single(schemes[2].ApiKey!.Keys);
        Assert.Null(result.Config.Routes[0].Auth is null ? "x" : null);
    }

    [Fact]
    public void ClaimKeyedRateLimitIsAcceptedOnAnAuthenticatedRoute()
    {
        var result = Read($"  s: {{ type: jwt, secret: \"{Secret}\" }}", "auth: { schemes: [s] }\n    rateLimit: p", "rateLimits:\n  p: { limit: 1, key: { claim: sub } }");
        Assert.Empty(result.Errors);
    }

    [Theory]
    [InlineData("  s: { issuer: i }", "authSchemes.s", "needs a type")]
    [InlineData("  s: { type: jwk }", "authSchemes.s.type", "did you mean 'jwt'")]
    [InlineData("  s: { type: jwt, issuer: i }", "authSchemes.s", "needs a key source")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', secret: '0123456789abcdef0123456789abcdef' }", "authSchemes.s", "give only one key source")]
    [InlineData("  s: { type: jwt, jwksUrl: 'https://x/j' }", "authSchemes.s", "needs an issuer")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'http://issuer.example/j' }", "authSchemes.s.jwksUrl", "must use https")]
    [InlineData("  s: { type: jwt, issuer: i, discovery: 'ftp://x/j' }", "authSchemes.s.discovery", "not an absolute http(s) URL")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', algorithms: [none] }", "authSchemes.s.algorithms", "'none' is never accepted")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', algorithms: [EdDSA] }", "authSchemes.s.algorithms", "EdDSA is not supported")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', algorithms: [RS265] }", "authSchemes.s.algorithms", "did you mean 'RS256'")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', algorithms: [HS256] }", "authSchemes.s.algorithms", "needs a shared secret")]
    [InlineData("  s: { type: jwt, secret: '0123456789abcdef0123456789abcdef', algorithms: [RS256] }", "authSchemes.s.algorithms", "cannot be verified with a shared secret")]
    [InlineData("  s: { type: jwt, secret: 'short' }", "authSchemes.s.secret", "at least 32 bytes")]
    [InlineData("  s: { type: jwt, secret: 'env:TURNPIKE_TEST_UNSET_SECRET' }", "authSchemes.s.secret", "is not set")]
    [InlineData("  s: { type: jwt, keysFile: /nonexistent/keys.pem }", "authSchemes.s.keysFile", "does not exist")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', minRefreshInterval: 10ms }", "authSchemes.s.minRefreshInterval", "at least 1s")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', refreshInterval: 10s, minRefreshInterval: 30s }", "authSchemes.s.refreshInterval", "must not be shorter")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', header: x }", "authSchemes.s.header", "does not apply to a scheme of type jwt")]
    [InlineData("  s: { type: jwt, issuer: i, jwksUrl: 'https://x/j', audience: x }", "authSchemes.s.audience", "did you mean 'audiences'")]
    [InlineData("  s: { type: apiKey, keys: { a: 'abcdefghijklmnop' }, issuer: x }", "authSchemes.s.issuer", "does not apply to a scheme of type apiKey")]
    [InlineData("  s: { type: apiKey }", "authSchemes.s", "needs keys")]
    [InlineData("  s: { type: apiKey, keys: { a: short } }", "authSchemes.s.keys.a", "at least 16 characters")]
    [InlineData("  s: { type: apiKey, keys: { a: 'abcdefghijklmnop', b: 'abcdefghijklmnop' } }", "authSchemes.s", "same key as another")]
    [InlineData("  s: { type: apiKey, header: a, query: b, keys: { a: 'abcdefghijklmnop' } }", "authSchemes.s.query", "not both")]
    public void ReportsSchemeErrorsWithField(string schemes, string field, string message)
    {
        var errors = Read(schemes).Errors;
        var error = Assert.Single(errors, e => e.Field == field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal("id.yaml", error.File);
        Assert.True(error.Line > 0, error.ToString());
    }

    [Theory]
    [InlineData("auth: { schemes: [x] }", "routes.r.auth.schemes", "did you mean 's'")]
    [InlineData("auth: { schemes: [] }", "routes.r.auth.schemes", "at least one scheme")]
    [InlineData("auth: { require: {} }", "routes.r.auth.schemes", "is required")]
    [InlineData("auth: { schemes: [s, s] }", "routes.r.auth.schemes", "listed twice")]
    [InlineData("auth: { schemes: [s], require: { scopes: {} } }", "routes.r.auth.require.scopes", "any: [...] and/or all")]
    [InlineData("auth: { schemes: [s], require: { scope: { any: [a] } } }", "routes.r.auth.require.scope", "did you mean 'scopes'")]
    [InlineData("auth: { schemes: [s], require: { claims: { t: { exact: a, prefix: b } } } }", "routes.r.auth.require.claims.t", "exactly one of")]
    [InlineData("auth: { schemes: [s], require: { claims: { t: { regex: '(a' } } } }", "routes.r.auth.require.claims.t.regex", "not a valid regular expression")]
    [InlineData("auth: { schemes: [s], require: { claims: { t: { regex: '(a)\\1' } } } }", "routes.r.auth.require.claims.t.regex", "not a valid regular expression")]
    [InlineData("auth: { schemes: [s], forwardClaims: { 'bad header': sub } }", "routes.r.auth.forwardClaims.bad header", "not a valid header name")]
    [InlineData("auth: { schemes: [s], forwardClaims: { Authorization: sub } }", "routes.r.auth.forwardClaims.Authorization", "cannot be set from a claim")]
    [InlineData("auth: { schemes: [s], keepAuthorisation: true }", "routes.r.auth.keepAuthorisation", "did you mean 'keepAuthorization'")]
    [InlineData("auth: [s]", "routes.r.auth", "must be a mapping")]
    public void ReportsRouteAuthErrorsWithField(string auth, string field, string message)
    {
        var errors = Read($"  s: {{ type: jwt, secret: \"{Secret}\" }}", auth).Errors;
        var error = Assert.Single(errors, e => e.Field == field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ApiKeyFileLinesAreHashesAndBadLinesNameTheFileAndLine()
    {
        var dir = Directory.CreateTempSubdirectory("turnpike-apikeys-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "keys.txt"), $"# comment\n\nacme {new string('a', 64)}\nbroken line here\n");
            var result = YamlConfigReader.Read(
                "listeners: { l: { port: 0 } }\nauthSchemes:\n  k: { type: apiKey, keysFile: keys.txt }\nroutes: {}\nclusters: {}\n", Path.Combine(dir, "t.yaml"));
            var error = Assert.Single(result.Errors);
            Assert.Equal((Path.Combine(dir, "keys.txt"), 4), (error.File, error.Line));
            Assert.Contains("consumer sha256-hex", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
