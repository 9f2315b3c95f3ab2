using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Identity.Jwt;

namespace Turnpike.Tests.Identity;

public sealed class TokenCacheTests
{
    private static readonly ClaimsPrincipal Alice = new(new ClaimsIdentity([new Claim("sub", "alice")], "jwt"));

    private static SigningKeySet Keys(params string[] kids) =>
        SigningKeySet.FromJwks(JwksKeySourceTests.Jwks(kids), out _)!;

    [Fact]
    public void HitsUntilTheTokenExpiresOrTheTtlEnds()
    {
        var time = new FakeTimeProvider();
        var cache = new TokenCache(100, TimeSpan.FromMinutes(5), time);
        var keys = Keys("k1");
        cache.Add("token-a", Alice, time.GetUtcNow().AddMinutes(1), keys, "k1");
        Assert.True(cache.TryGet("token-a", keys, out var p));
        Assert.Same(Alice, p);
        Assert.False(cache.TryGet("token-b", keys, out _));
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(cache.TryGet("token-a", keys, out _));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet("token-a", keys, out _)); // never past the token's exp
        Assert.Equal(0, cache.Count);

        cache.Add("token-c", Alice, null, keys, "k1");
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(cache.TryGet("token-c", keys, out _)); // nor past the TTL
        cache.Add("token-d", Alice, time.GetUtcNow().AddSeconds(-1), keys, "k1");
        Assert.False(cache.TryGet("token-d", keys, out _)); // already expired: not stored
    }

    [Fact]
    public void AHitNeedsTheExactTokenAndItsKeyStillPublished()
    {
        var time = new FakeTimeProvider();
        var cache = new TokenCache(100, TimeSpan.FromMinutes(5), time);
        var keys = Keys("k1");
        cache.Add("header.payload.signature", Alice, null, keys, "k1");
        Assert.False(cache.TryGet("header.payload.signaturE", keys, out _));

        var rotated = Keys("k1", "k2");
        Assert.True(cache.TryGet("header.payload.signature", rotated, out _)); // k1 still there
        var removed = Keys("k2");
        Assert.False(cache.TryGet("header.payload.signature", removed, out _)); // k1 gone: revalidate (and fail)
        Assert.False(cache.TryGet("header.payload.signature", rotated, out _)); // and the entry is dropped
    }

    [Fact]
    public void StaysBounded()
    {
        var time = new FakeTimeProvider();
        var cache = new TokenCache(100, TimeSpan.FromMinutes(5), time);
        var keys = Keys("k1");
        for (var i = 0; i < 1000; i++)
        {
            cache.Add("token-" + i, Alice, null, keys, "k1");
            Assert.InRange(cache.Count, 1, 101);
        }

        Assert.True(cache.TryGet("token-999", keys, out _));
    }
}
