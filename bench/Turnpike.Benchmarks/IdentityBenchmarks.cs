using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Turnpike.Configuration;
using Turnpike.Identity;
using Turnpike.Identity.ApiKeys;
using Turnpike.Identity.Jwt;

namespace Turnpike.Benchmarks;

/// <summary>
/// The per-request auth step as <c>ProxyHandler.Auth</c> runs it — the scheme's check, the success counter, the
/// route's rules (a scope) and the identity headers (client copy removed, <c>x-user-id</c> set from <c>sub</c>) —
/// against the same request without auth (the route's null check). JWT with a warm token cache (RS256, ES256), an
/// API key, and for reference a cold RS256/ES256 validation (cache off: header guard, key lookup, signature, claims).
/// </summary>
[MemoryDiagnoser]
public class IdentityBenchmarks
{
    private const string Issuer = "https://issuer.bench";
    private const string Audience = "bench-api";

    private RouteAuth? _none;
    private DefaultHttpContext _rsContext = null!;
    private DefaultHttpContext _esContext = null!;
    private DefaultHttpContext _apiKeyContext = null!;
    private RouteAuth _rsWarm = null!;
    private RouteAuth _esWarm = null!;
    private RouteAuth _rsCold = null!;
    private RouteAuth _esCold = null!;
    private RouteAuth _apiKey = null!;

    [GlobalSetup]
    public void Setup()
    {
        _none = null;
        var rsa = RSA.Create(2048);
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var dir = Directory.CreateTempSubdirectory("turnpike-bench-").FullName;
        var rsaPem = Path.Combine(dir, "rsa.pem");
        var ecPem = Path.Combine(dir, "ec.pem");
        File.WriteAllText(rsaPem, rsa.ExportSubjectPublicKeyInfoPem());
        File.WriteAllText(ecPem, ec.ExportSubjectPublicKeyInfoPem());

        JwtSchemeConfig Jwt(string file, string alg, int cache) => new()
        {
            Issuer = Issuer, Audiences = [Audience], Algorithms = [alg], KeysFile = file, TokenCacheMaxEntries = cache, RequiredClaims = ["sub"],
        };

        var time = TimeProvider.System;
        AuthSchemeConfig Scheme(string name, JwtSchemeConfig jwt) => new() { Name = name, Type = AuthSchemeKind.Jwt, Jwt = jwt, Fingerprint = name };
        var config = new GatewayConfig
        {
            AuthSchemes =
            [
                Scheme("rsWarm", Jwt(rsaPem, "RS256", 10_000)),
                Scheme("esWarm", Jwt(ecPem, "ES256", 10_000)),
                Scheme("rsCold", Jwt(rsaPem, "RS256", 0)),
                Scheme("esCold", Jwt(ecPem, "ES256", 0)),
                new AuthSchemeConfig
                {
                    Name = "keys", Type = AuthSchemeKind.ApiKey, Fingerprint = "keys",
                    ApiKey = new ApiKeySchemeConfig { Header = "x-api-key", Keys = [new ApiKeyEntry("acme", SHA256.HashData("bench-key-0123456789"u8))] },
                },
            ],
        };
        var identity = IdentitySet.Build(config, null, time, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        RouteAuth Route(string scheme, bool scope) => new(new RouteAuthConfig
        {
            Schemes = [scheme],
            Require = scope ? new AuthRequirementsConfig { Scopes = new ValueSetRequirement { Any = ["orders.read"] } } : new AuthRequirementsConfig(),
            ForwardClaims = [new ForwardClaimConfig("x-user-id", "sub")],
            KeepAuthorization = true, // the same request object is reused: keep its Authorization header
        }, identity);

        _rsWarm = Route("rsWarm", scope: true);
        _esWarm = Route("esWarm", scope: true);
        _rsCold = Route("rsCold", scope: true);
        _esCold = Route("esCold", scope: true);
        _apiKey = Route("keys", scope: false);

        string Mint(SecurityKey key, string alg) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Expires = DateTime.UtcNow.AddHours(1),
            Subject = new ClaimsIdentity([new Claim("sub", "user-1234"), new Claim("scope", "profile orders.read")]),
            SigningCredentials = new SigningCredentials(key, alg),
        });

        _rsContext = Context("Authorization", "Bearer " + Mint(new RsaSecurityKey(rsa), "RS256"));
        _esContext = Context("Authorization", "Bearer " + Mint(new ECDsaSecurityKey(ec), "ES256"));
        _apiKeyContext = Context("x-api-key", "bench-key-0123456789");

        // Warm the caches and check every path admits.
        foreach (var (auth, context) in new[] { (_rsWarm, _rsContext), (_esWarm, _esContext), (_rsCold, _rsContext), (_esCold, _esContext), (_apiKey, _apiKeyContext) })
        {
            if (!Authenticate(auth, context))
            {
                throw new InvalidOperationException("setup: a request was not admitted");
            }
        }
    }

    private static DefaultHttpContext Context(string header, string value)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/orders/1";
        context.Request.Headers[header] = value;
        context.Request.Headers["x-user-id"] = "spoofed";
        return context;
    }

    /// <summary>What ProxyHandler.Auth does for a request whose scheme answers synchronously.</summary>
    private static bool Authenticate(RouteAuth auth, HttpContext context)
    {
        var pending = auth.Schemes[0].AuthenticateAsync(context);
        var result = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        if (result.Outcome != AuthOutcome.Success || (auth.Rules is { } rules && !rules.Allows(result.Principal!)))
        {
            return false;
        }

        auth.Counters[0].OnSuccess();
        context.User = result.Principal!;
        auth.PrepareUpstreamRequest(context.Request, result.Principal!);
        return true;
    }

    [Benchmark(Baseline = true, Description = "no auth (route.Auth is null)")]
    public bool Off() => _none is null || Authenticate(_none, _rsContext);

    [Benchmark(Description = "JWT RS256, token cache warm")]
    public bool Rs256Warm() => Authenticate(_rsWarm, _rsContext);

    [Benchmark(Description = "JWT ES256, token cache warm")]
    public bool Es256Warm() => Authenticate(_esWarm, _esContext);

    [Benchmark(Description = "API key (SHA-256 + fixed-time compare)")]
    public bool ApiKey() => Authenticate(_apiKey, _apiKeyContext);

    [Benchmark(Description = "JWT RS256, cold (no cache: full validation)")]
    public bool Rs256Cold() => Authenticate(_rsCold, _rsContext);

    [Benchmark(Description = "JWT ES256, cold (no cache: full validation)")]
    public bool Es256Cold() => Authenticate(_esCold, _esContext);
}
