using System.Diagnostics;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>
/// A global policy shared through one real redis-server by three real <c>turnpike</c> processes (the executable built
/// beside the tests, each with its own config file, listener and admin port): they share nothing but Redis.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class GlobalRateLimitTests(ITestOutputHelper output)
{
    private static string Config(string backend, int redisPort, string keyPrefix, int port, int adminPort) => $$"""
        listeners:
          main: { address: 127.0.0.1, port: {{port}} }
        admin: { address: 127.0.0.1, port: {{adminPort}} }
        logging: { level: warning }
        redis: { configuration: "127.0.0.1:{{redisPort}}", timeout: 100ms, retryInterval: 200ms, keyPrefix: "{{keyPrefix}}" }
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

    [SkippableFact]
    public async Task ThreeGatewaysShareOneLimitFailOpenWhenRedisDiesAndEnforceItAgainWhenItReturns()
    {
        var total = Stopwatch.StartNew();
        await using var redis = await RedisServer.StartAsync();
        await using var backend = await TestBackend.StartEchoAsync("b");
        var prefix = $"turnpike-test-{Guid.NewGuid():N}:";
        var directory = Directory.CreateTempSubdirectory("turnpike-global-").FullName;
        var gateways = new Gateway[3];
        var processes = new List<TurnpikeProcess>();
        try
        {
            for (var i = 0; i < gateways.Length; i++)
            {
                var (port, adminPort) = (Configs.FreePort(), Configs.FreePort());
                var path = Path.Combine(directory, $"g{i}.yaml");
                await File.WriteAllTextAsync(path, Config(backend.Address, redis.Port, prefix, port, adminPort));
                processes.Add(TurnpikeProcess.Start("run", "--config", path));
                gateways[i] = new Gateway(GatewayHost.CreateClient(), new Uri($"http://127.0.0.1:{port}/x"), new Uri($"http://127.0.0.1:{adminPort}/admin/ratelimits"));
            }

            await Task.WhenAll(processes.Select(p => p.WaitForOutputAsync("Turnpike is running", TimeSpan.FromSeconds(30))));
            output.WriteLine($"three turnpike processes (PIDs {string.Join(", ", processes.Select(p => p.Id))}) up after {total.Elapsed.TotalSeconds:F1} s");
            await RunAsync(gateways, redis, total);
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }

            foreach (var gateway in gateways)
            {
                gateway?.Client.Dispose();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private sealed record Gateway(HttpClient Client, Uri Url, Uri RateLimitsUrl);

    private async Task RunAsync(Gateway[] gateways, RedisServer redis, Stopwatch total)
    {
        var targets = gateways.Select(g => (g.Client, g.Url)).ToArray();
        await WaitForRedisAsync(gateways);
        // Fresh processes: JIT and connection pools settle under 2 s of the same load first, so the measured phase
        // is not shaped by start-up stalls; then the bucket refills.
        await LoadGenerator.RunAsync(targets, perSecond: 600, TimeSpan.FromSeconds(2));
        await Task.Delay(300);
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
    private static async Task WaitForRedisAsync(Gateway[] gateways)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var up = 0;
            foreach (var gw in gateways)
            {
                using (await gw.Client.GetAsync(new Uri(gw.Url, "/probe")))
                {
                }

                var json = System.Text.Json.Nodes.JsonNode.Parse(await gw.Client.GetStringAsync(gw.RateLimitsUrl))!;
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

    private static async Task<long> FallbacksAsync(Gateway[] gateways)
    {
        long sum = 0;
        foreach (var gw in gateways)
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(await gw.Client.GetStringAsync(gw.RateLimitsUrl))!;
            sum += (long)json["policies"]!.AsArray().Single(p => (string)p!["name"]! == "shared")!["fallbacks"]!;
        }

        return sum;
    }
}
