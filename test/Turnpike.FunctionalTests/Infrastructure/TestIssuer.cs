using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// A token issuer for the tests: keys generated at test time, tokens minted with <see cref="JsonWebTokenHandler"/> or
/// hand-built (for attacks), and a real JWKS endpoint (a <see cref="TestBackend"/>) whose key set the test changes.
/// </summary>
public sealed class TestIssuer : IAsyncDisposable
{
    public const string Issuer = "https://issuer.test";
    public const string Audience = "orders-api";

    private readonly List<IssuerKey> _published = [];
    private volatile string _jwks = "{\"keys\":[]}";
    private int _jwksRequests;

    private TestIssuer(TestBackend backend) => Backend = backend;

    public TestBackend Backend { get; }

    public string JwksUrl => Backend.Address + "/jwks.json";

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>While true, the JWKS endpoint answers 503.</summary>
    public volatile bool Down;

    public static async Task<TestIssuer> StartAsync()
    {
        TestIssuer? issuer = null;
        var backend = await TestBackend.StartAsync(async context =>
        {
            Interlocked.Increment(ref issuer!._jwksRequests);
            if (issuer.Down)
            {
                context.Response.StatusCode = 503;
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(issuer._jwks);
        });
        issuer = new TestIssuer(backend);
        return issuer;
    }

    public void Publish(params IssuerKey[] keys)
    {
        lock (_published)
        {
            _published.Clear();
            _published.AddRange(keys);
            _jwks = new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k.Jwk())]) }.ToJsonString();
        }
    }

    public ValueTask DisposeAsync() => Backend.DisposeAsync();

    public static string Mint(IssuerKey key, string sub = "user-1", string issuer = Issuer, string audience = Audience, DateTime? expires = null,
        DateTime? notBefore = null, IDictionary<string, object>? claims = null, bool noExpiration = false, string? typ = null)
    {
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = !noExpiration };
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", sub)]),
            SigningCredentials = key.Credentials,
            TokenType = typ,
        };
        if (!noExpiration)
        {
            descriptor.Expires = expires ?? now.AddMinutes(10);
            descriptor.NotBefore = notBefore ?? (descriptor.Expires < now ? descriptor.Expires.Value.AddMinutes(-10) : now.AddMinutes(-1));
            descriptor.IssuedAt = descriptor.NotBefore;
        }

        if (claims is not null)
        {
            descriptor.Claims = claims;
        }

        return handler.CreateToken(descriptor);
    }

    public static string B64(byte[] bytes) => Base64UrlEncoder.Encode(bytes);

    public static string B64(string text) => B64(Encoding.UTF8.GetBytes(text));

    /// <summary>A JWS built by hand: any header, any payload, any signature bytes.</summary>
    public static string Jws(string headerJson, string payloadJson, Func<byte[], byte[]>? sign)
    {
        var signingInput = B64(headerJson) + "." + B64(payloadJson);
        var signature = sign is null ? string.Empty : B64(sign(Encoding.ASCII.GetBytes(signingInput)));
        return signingInput + "." + signature;
    }

    public static string ValidPayload(string sub = "user-1") =>
        $$"""{"sub":"{{sub}}","iss":"{{Issuer}}","aud":"{{Audience}}","exp":{{DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}},"nbf":{{DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds()}}}""";
}

/// <summary>A key pair generated for one test, with its kid.</summary>
public sealed class IssuerKey
{
    private IssuerKey(string kid, SecurityKey key, string alg, Func<JsonObject> jwk)
    {
        Kid = kid;
        Key = key;
        Algorithm = alg;
        Credentials = new SigningCredentials(key, alg);
        Jwk = jwk;
    }

    public string Kid { get; }

    public SecurityKey Key { get; }

    public string Algorithm { get; }

    public SigningCredentials Credentials { get; }

    public Func<JsonObject> Jwk { get; }

    public RSA? Rsa { get; private init; }

    public ECDsa? Ec { get; private init; }

    public static IssuerKey NewRsa(string kid, string alg = "RS256")
    {
        var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(false);
        return new IssuerKey(kid, new RsaSecurityKey(rsa) { KeyId = kid }, alg, () => new JsonObject
        {
            ["kty"] = "RSA", ["kid"] = kid, ["use"] = "sig", ["n"] = TestIssuer.B64(p.Modulus!), ["e"] = TestIssuer.B64(p.Exponent!),
        }) { Rsa = rsa };
    }

    public static IssuerKey NewEc(string kid)
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = ec.ExportParameters(false);
        return new IssuerKey(kid, new ECDsaSecurityKey(ec) { KeyId = kid }, "ES256", () => new JsonObject
        {
            ["kty"] = "EC", ["kid"] = kid, ["use"] = "sig", ["crv"] = "P-256", ["x"] = TestIssuer.B64(p.Q.X!), ["y"] = TestIssuer.B64(p.Q.Y!),
        }) { Ec = ec };
    }

    public static IssuerKey NewHmac(string secret) =>
        new(string.Empty, new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), "HS256", () => new JsonObject());
}
