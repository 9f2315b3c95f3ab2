using System.Diagnostics;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>
/// A global policy shared through one real redis-server by three gateways (in-process <see cref="GatewayHost"/>s: three
/// child processes would take far longer to start on a small machine; each has its own Kestrel listeners, model and
/// Redis connection, so they share nothing but Redis).
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class GlobalRateLimitTests(ITestOutputHelper output)
{
    private static string Config(string backend, int redisPort) => $$"""
        redis: { configuration: "127.0.0.1:{{redisPort}}", timeout: 100ms, retryInterval: 200ms, keyPrefix: "turnpike-test-{{Guid.NewGuid():N}}:" }
        rateLimits:
          shared: { algorithm: tokenBucket, limit: 200, period: 1s, burst: 20, scope: global, key: clientIp }
        routes:
          all:
            match: { path: "/{**rest}" }
            cluster: c
            rateLimit: shared
        clusters:
          c:
            destinations: { d: {{backend}} }
        """;

    [Fact]
    public async Task ThreeGatewaysShareOneLimitFailOpenWhenRedisDiesAndEnforceItAgainWhenItReturns()
    {
        var total = Stopwatch.StartNew();
        await using var redis = await RedisServer.StartAsync();
        await using var backend = await TestBackend.StartEchoAsync("b");
        var yaml = Config(backend.Address, redis.Port);
        await using var g1 = await GatewayHost.StartAsync(yaml);
        await using var g2 = await GatewayHost.StartAsync(yaml);
        await using var g3 = await GatewayHost.StartAsync(yaml);
        GatewayHost[] gateways = [g1, g2, g3];
        var targets = gateways.Select(g => (g.Client, g.Combine("/x"))).ToArray();
        await WaitForRedisAsync(gateways);
        var fallbacksAtStart = await FallbacksAsync(gateways); // requests before the first connect fell back

        // 1. 600 req/s over three gateways for 10 s against 200/s (burst 20): 2,000 admitted ± 5 %.
        var run = await LoadGenerator.RunAsync(targets, perSecond: 600, TimeSpan.FromSeconds(10));
        var expected = 20 + 200 * run.SendDuration.TotalSeconds;
        output.WriteLine($"redis up: admitted {run.Ok}, limited {run.Limited}, other {run.Other} of {run.Total} over {run.SendDuration.TotalSeconds:F2} s; expected {expected:F0}");
        Assert.Equal(0, run.Other);
        Assert.InRange(run.Ok, expected * 0.95, expected * 1.05);
        Assert.InRange(run.Ok, 1900, 2100);
        Assert.Equal(fallbacksAtStart, await FallbacksAsync(gateways));

        // 2. Redis dies: requests keep being served by the local fallback (200/s per gateway: nearly all pass).
        await redis.KillAsync();
        var down = await LoadGenerator.RunAsync(targets, perSecond: 600, TimeSpan.FromSeconds(2));
        var fallbacks = await FallbacksAsync(gateways) - fallbacksAtStart;
        output.WriteLine($"redis down: admitted {down.Ok}, limited {down.Limited}, other {down.Other} of {down.Total}; fallbacks {fallbacks}");
        Assert.Equal(0, down.Other);
        Assert.True(down.Ok > down.Total * 0.8, $"fail-open admitted only {down.Ok} of {down.Total}");
        Assert.True(fallbacks > down.Total / 2, $"fallbacks {fallbacks}");

        // 3. Redis is back on the same port (empty): the gateways reconnect by themselves and the global limit holds again.
        await redis.RestartAsync();
        var reconnect = Stopwatch.StartNew();
        await WaitForRedisAsync(gateways);
        output.WriteLine($"gateways back on Redis after {reconnect.Elapsed.TotalSeconds:F1} s");
        var again = await LoadGenerator.RunAsync(targets, perSecond: 600, TimeSpan.FromSeconds(3));
        var expectedAgain = 20 + 200 * again.SendDuration.TotalSeconds;
        output.WriteLine($"redis back: admitted {again.Ok}, limited {again.Limited}, other {again.Other} of {again.Total} over {again.SendDuration.TotalSeconds:F2} s; expected {expectedAgain:F0}; test took {total.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(0, again.Other);
        Assert.InRange(again.Ok, expectedAgain * 0.9, expectedAgain * 1.1);
    }

    /// <summary>Until every gateway's request path uses Redis (a request per gateway every 100 ms; at most 15 s).</summary>
    private static async Task WaitForRedisAsync(GatewayHost[] gateways)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var up = 0;
            foreach (var gw in gateways)
            {
                using (await gw.Client.GetAsync(gw.Combine("/probe")))
                {
                }

                var json = System.Text.Json.Nodes.JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/ratelimits")))!;
                up += json["redis"]!["up"]!.GetValue<bool>() && json["redis"]!["connected"]!.GetValue<bool>() ? 1 : 0;
            }

            if (up == gateways.Length)
            {
                // Spend what the probes left of the burst, then let the bucket refill: the next phase starts full.
                await Task.Delay(200);
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "the gateways did not get back to Redis within 15 s");
            await Task.Delay(100);
        }
    }

    private static async Task<long> FallbacksAsync(GatewayHost[] gateways)
    {
        long sum = 0;
        foreach (var gw in gateways)
        {
            sum += (long)(await RateLimitTests.PolicyStatus(gw, "shared"))["fallbacks"]!;
        }

        return sum;
    }
}
