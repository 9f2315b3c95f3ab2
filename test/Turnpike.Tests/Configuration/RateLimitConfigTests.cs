using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class RateLimitConfigTests
{
    private static ConfigLoadResult Read(string top, string routeExtra = "rateLimit: p", string path = "/{**rest}") =>
        YamlConfigReader.Read(
            $"listeners: {{ l: {{ port: 0 }} }}\n{top}\nroutes:\n  r:\n    match: {{ path: \"{path}\" }}\n    cluster: c\n    {routeExtra}\nclusters:\n  c:\n    destinations: {{ d: 'http://127.0.0.1:1' }}\n",
            "rl.yaml");

    [Fact]
    public void DefaultsAreATokenBucketPerClientIp()
    {
        var result = Read("rateLimits:\n  p: { limit: 10 }");
        Assert.Empty(result.Errors);
        var p = result.Config!.RateLimits.Single();
        Assert.Equal(RateLimitAlgorithm.TokenBucket, p.Algorithm);
        Assert.Equal((10, 10, TimeSpan.FromSeconds(1)), (p.Limit, p.Burst, p.Period));
        Assert.Equal(new RateLimitKeyConfig(), p.Key);
        Assert.Equal((100_000, TimeSpan.FromMinutes(1), RateLimitScope.Local), (p.MaxPartitions, p.IdleTimeout, p.Scope));
        Assert.Equal(["p"], result.Config.Routes[0].RateLimits);
        Assert.Null(result.Config.Redis);
    }

    [Fact]
    public void ReadsEveryKey()
    {
        var result = Read("""
            redis: { configuration: "10.0.0.5:6380,password=s3cret", timeout: 20ms, connectTimeout: 1s, retryInterval: 2s, keyPrefix: "gw:" }
            rateLimits:
              p:
                algorithm: tokenBucket
                limit: 100
                period: 1m
                burst: 150
                key: clientIp
                trustedProxies: [10.0.0.0/8, 192.168.1.1, "fd00::/8"]
                maxPartitions: 5000
                idleTimeout: 10m
                scope: global
                onRedisFailure: deny
              w: { algorithm: slidingWindow, limit: 5, period: 10s, segments: 5, key: { header: x-tenant } }
              f: { algorithm: fixedWindow, limit: 7, period: 2s, key: apiKey }
              k: { algorithm: concurrency, limit: 3, key: { apiKey: x-key } }
              v: { limit: 1, key: { routeValue: id } }
            """, "rateLimit: [p, w, f, k, v]", "/users/{id}/{**rest}");
        Assert.Empty(result.Errors);
        var config = result.Config!;
        Assert.Equal(new RedisConfig
        {
            Configuration = "10.0.0.5:6380,password=s3cret", Timeout = TimeSpan.FromMilliseconds(20), ConnectTimeout = TimeSpan.FromSeconds(1),
            RetryInterval = TimeSpan.FromSeconds(2), KeyPrefix = "gw:",
        }, config.Redis);
        var p = config.RateLimits[0];
        Assert.Equal((100, TimeSpan.FromMinutes(1), 150), (p.Limit, p.Period, p.Burst));
        Assert.Equal(["10.0.0.0/8", "192.168.1.1", "fd00::/8"], p.TrustedProxies);
        Assert.Equal((5000, TimeSpan.FromMinutes(10), RateLimitScope.Global, RedisFailureMode.Deny), (p.MaxPartitions, p.IdleTimeout, p.Scope, p.OnRedisFailure));
        Assert.Equal((RateLimitAlgorithm.SlidingWindow, 5, new RateLimitKeyConfig { Source = RateLimitKeySource.Header, Name = "x-tenant" }), (config.RateLimits[1].Algorithm, config.RateLimits[1].Segments, config.RateLimits[1].Key));
        Assert.Equal(new RateLimitKeyConfig { Source = RateLimitKeySource.ApiKey, Name = "x-api-key" }, config.RateLimits[2].Key);
        Assert.Equal((RateLimitAlgorithm.Concurrency, TimeSpan.Zero, "x-key"), (config.RateLimits[3].Algorithm, config.RateLimits[3].Period, config.RateLimits[3].Key.Name));
        Assert.Equal(new RateLimitKeyConfig { Source = RateLimitKeySource.RouteValue, Name = "id" }, config.RateLimits[4].Key);
        Assert.Equal(["p", "w", "f", "k", "v"], config.Routes[0].RateLimits);
    }

    [Theory]
    [InlineData("rateLimits:\n  p: { limit: 0 }", "rateLimits.p.limit", "out of range")]
    [InlineData("rateLimits:\n  p: { period: 1s }", "rateLimits.p.limit", "is required")]
    [InlineData("rateLimits:\n  p: { limit: 1, algorithm: tokenBuket }", "rateLimits.p.algorithm", "did you mean 'tokenBucket'")]
    [InlineData("rateLimits:\n  p: { limit: 1, limt: 2 }", "rateLimits.p.limt", "did you mean 'limit'")]
    [InlineData("rateLimits:\n  p: { limit: 1, algorithm: fixedWindow, burst: 2 }", "rateLimits.p.burst", "only applies to algorithm tokenBucket")]
    [InlineData("rateLimits:\n  p: { limit: 1, segments: 2 }", "rateLimits.p.segments", "only applies to algorithm slidingWindow")]
    [InlineData("rateLimits:\n  p: { limit: 1, algorithm: slidingWindow, period: 10ms, segments: 20 }", "rateLimits.p.segments", "shorter than 1ms")]
    [InlineData("rateLimits:\n  p: { limit: 1, algorithm: concurrency, period: 1s }", "rateLimits.p.period", "does not apply to algorithm concurrency")]
    [InlineData("rateLimits:\n  p: { limit: 1, period: 0 }", "rateLimits.p.period", "not a valid duration")]
    [InlineData("rateLimits:\n  p: { limit: 1, key: { claim: sub } }", "routes.r.rateLimit", "needs an auth block on the route")]
    [InlineData("rateLimits:\n  p: { limit: 1, key: { header: '' } }", "rateLimits.p.key.header", "needs a name")]
    [InlineData("rateLimits:\n  p: { limit: 1, key: { header: a, apiKey: b } }", "rateLimits.p.key", "exactly one of")]
    [InlineData("rateLimits:\n  p: { limit: 1, key: { heade: a } }", "rateLimits.p.key.heade", "did you mean 'header'")]
    [InlineData("rateLimits:\n  p: { limit: 1, key: clientIP }", "rateLimits.p.key", "did you mean 'clientIp'")]
    [InlineData("rateLimits:\n  p: { limit: 1, trustedProxies: [10.0.0.300] }", "rateLimits.p.trustedProxies", "not an IP address or a CIDR")]
    [InlineData("rateLimits:\n  p: { limit: 1, key: apiKey, trustedProxies: [10.0.0.1] }", "rateLimits.p.trustedProxies", "only applies to key clientIp")]
    [InlineData("rateLimits:\n  p: { limit: 1, maxPartitions: 0 }", "rateLimits.p.maxPartitions", "out of range")]
    [InlineData("rateLimits:\n  p: { limit: 1, scope: global }", "rateLimits.p.scope", "needs a top-level redis section")]
    [InlineData("redis: {}\nrateLimits:\n  p: { limit: 1, algorithm: fixedWindow, scope: global }", "rateLimits.p.scope", "supports algorithm tokenBucket only")]
    [InlineData("rateLimits:\n  p: { limit: 1, scope: everywhere }", "rateLimits.p.scope", "not one of: local, global")]
    [InlineData("rateLimits:\n  p: { limit: 1, onRedisFailure: deny }", "rateLimits.p.onRedisFailure", "only applies to scope global")]
    [InlineData("redis: {}\nrateLimits:\n  p: { limit: 1, scope: global, onRedisFailure: open }", "rateLimits.p.onRedisFailure", "not one of: local, deny")]
    [InlineData("rateLimits:\n  \"a:b\": { limit: 1 }\n  p: { limit: 1 }", "rateLimits.a:b", "must not contain ':'")]
    [InlineData("rateLimits:\n  p: 5", "rateLimits.p", "must be a mapping")]
    [InlineData("redis: { configuration: 'password=x' }\nrateLimits:\n  p: { limit: 1 }", "redis.configuration", "names no server")]
    [InlineData("redis: { configuration: '' }\nrateLimits:\n  p: { limit: 1 }", "redis.configuration", "is not a valid Redis configuration string")]
    [InlineData("redis: { timeout: 30s }\nrateLimits:\n  p: { limit: 1 }", "redis.timeout", "must not exceed 10s")]
    [InlineData("redis: { tiemout: 1s }\nrateLimits:\n  p: { limit: 1 }", "redis.tiemout", "did you mean 'timeout'")]
    public void ReportsErrorsWithFieldAndPosition(string top, string field, string message)
    {
        var errors = Read(top).Errors;
        var error = Assert.Single(errors, e => e.Field == field);
        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), error.ToString());
        Assert.Contains(message, error.Message);
        Assert.Equal("rl.yaml", error.File);
        Assert.True(error.Line > 1 && error.Column > 0, error.ToString());
    }

    [Theory]
    [InlineData("rateLimit: q", "rate-limit policy 'q' is not defined in rateLimits; did you mean 'p'?")]
    [InlineData("rateLimit: [p, p]", "policy 'p' is listed twice")]
    [InlineData("rateLimit: v", "keyed by route value 'id', which the route's match.path does not capture")]
    public void ChecksRouteReferences(string routeExtra, string message)
    {
        var errors = Read("rateLimits:\n  p: { limit: 1 }\n  v: { limit: 1, key: { routeValue: id } }", routeExtra).Errors;
        var error = Assert.Single(errors);
        Assert.Equal("routes.r.rateLimit", error.Field);
        Assert.Contains(message, error.Message);
        Assert.Equal(9, error.Line);
    }

    [Fact]
    public void SameSettingsIgnoresWhereThePolicyIsWritten()
    {
        var a = new RateLimitPolicyConfig { Name = "p", Limit = 1, TrustedProxies = ["10.0.0.1"], Location = new("a", 1, 1) };
        var b = new RateLimitPolicyConfig { Name = "p", Limit = 1, TrustedProxies = ["10.0.0.1"], Location = new("b", 2, 2) };
        Assert.True(a.SameSettings(b));
        Assert.False(a.SameSettings(b with { TrustedProxies = ["10.0.0.2"] }));
        Assert.False(a.SameSettings(b with { Limit = 2 }));
    }
}
