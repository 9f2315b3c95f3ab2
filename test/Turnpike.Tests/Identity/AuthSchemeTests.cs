using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Turnpike.Configuration;
using Turnpike.Identity;
using Turnpike.Identity.ApiKeys;
using Turnpike.Identity.Jwt;

namespace Turnpike.Tests.Identity;

public sealed class AuthSchemeTests
{
    private const string Secret = "0123456789abcdef0123456789abcdef";

    private static HttpContext Request(string header, string value, string? query = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers[header] = value;
        if (query is not null)
        {
            context.Request.QueryString = new QueryString(query);
        }

        return context;
    }

    private static string Hs256(string sub, DateTime? expires = null, string secret = Secret) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "i",
        Subject = new ClaimsIdentity([new Claim("sub", sub)]),
        Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
        NotBefore = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
        IssuedAt = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), "HS256"),
    });

    private static JwtAuthScheme Scheme(TimeProvider time, int cache = 100) =>
        new("s", new JwtSchemeConfig { Issuer = "i", Secret = Secret, Algorithms = ["HS256"], TokenCacheMaxEntries = cache },
            new StaticKeySource(SigningKeySet.FromSecret(Encoding.UTF8.GetBytes(Secret))), time);

    [Fact]
    public async Task AValidTokenIsVerifiedOnceThenAnsweredSynchronouslyFromTheCache()
    {
        var scheme = Scheme(TimeProvider.System);
        var token = Hs256("alice");
        var first = await scheme.AuthenticateAsync(Request("Authorization", "Bearer " + token));
        Assert.Equal(AuthOutcome.Success, first.Outcome);
        Assert.Equal("alice", first.Principal!.FindFirst("sub")!.Value);

        var second = scheme.AuthenticateAsync(Request("Authorization", "bearer  " + token + " "));
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Same(first.Principal, (await second).Principal);
        Assert.Equal((1, 1), (scheme.Cache!.Hits, scheme.Cache.Misses));
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz", "NoCredentials", null)]
    [InlineData("Bearer", "NoCredentials", null)]
    [InlineData("Bearer  ", "Failure", AuthReasons.Malformed)]
    [InlineData("Bearer abc", "Failure", AuthReasons.Malformed)]
    public async Task TheAuthorizationHeaderDecidesWhetherTheSchemeApplies(string header, string outcome, string? reason)
    {
        var result = await Scheme(TimeProvider.System).AuthenticateAsync(Request("Authorization", header));
        Assert.Equal((outcome, reason), (result.Outcome.ToString(), result.Reason));
    }

    [Fact]
    public async Task ReasonsAreSpecific()
    {
        var scheme = Scheme(TimeProvider.System, cache: 0);
        async Task<string?> Reason(string token) => (await scheme.AuthenticateAsync(Request("Authorization", "Bearer " + token))).Reason;
        Assert.Equal(AuthReasons.Expired, await Reason(Hs256("a", DateTime.UtcNow.AddMinutes(-5))));
        Assert.Equal(AuthReasons.BadSignature, await Reason(Hs256("a", secret: Secret + "!")));
        Assert.Equal(AuthReasons.TooLarge, await Reason(new string('a', 16 * 1024 + 1)));
        Assert.Null(await Reason(Hs256("a")));
    }

    [Fact]
    public async Task ApiKeysAreFoundByHashInHeaderOrQuery()
    {
        var config = new ApiKeySchemeConfig
        {
            Header = "x-api-key",
            Keys = [new ApiKeyEntry("acme", SHA256.HashData("acme-key-0123456789"u8)), new ApiKeyEntry("globex", SHA256.HashData("globex-key-0123456789"u8))],
        };
        var scheme = new ApiKeyAuthScheme("k", config);
        var ok = await scheme.AuthenticateAsync(Request("x-api-key", "globex-key-0123456789"));
        Assert.Equal("globex", ok.Principal!.Identity!.Name);
        Assert.Equal(AuthReasons.UnknownApiKey, (await scheme.AuthenticateAsync(Request("x-api-key", "globex-key-012345678"))).Reason);
        Assert.Equal(AuthOutcome.NoCredentials, (await scheme.AuthenticateAsync(Request("x-other", "globex-key-0123456789"))).Outcome);
        Assert.Equal(AuthReasons.TooLarge, (await scheme.AuthenticateAsync(Request("x-api-key", new string('k', 2000)))).Reason);

        var byQuery = new ApiKeyAuthScheme("q", config with { Header = null, Query = "api_key" });
        var viaQuery = await byQuery.AuthenticateAsync(Request("x", "y", "?api_key=acme-key-0123456789"));
        Assert.Equal("acme", viaQuery.Principal!.FindFirst("sub")!.Value);
    }
}
