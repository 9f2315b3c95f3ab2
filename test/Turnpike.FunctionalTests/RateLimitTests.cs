using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>Local rate limiting through the real gateway and a real backend: rates, 429 headers, client IPs, bounded partitions.</summary>
[Collection(TimingSensitive.Name)]
public sealed class RateLimitTests(ITestOutputHelper output)
{
    internal static async Task<JsonObject> PolicyStatus(GatewayHost gw, string name)
    {
        var json = JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/ratelimits")))!;
        return json["policies"]!.AsArray().Single(p => (string)p!["name"]! == name)!.AsObject();
    }

    private static string Gateway(string backend, string policies, string routeLimit = "rateLimit: p") => $$"""
        rateLimits:
        {{policies}}
        routes:
          all:
            match: { path: "/{**rest}" }
            cluster: c
            {{routeLimit}}
        clusters:
          c:
            destinations: { d: {{backend}} }
        """;

    [Fact]
    public async Task TokenBucketAdmitsTheBurstThenTheRate()
    {
        await using var backend = await TestBackend.StartEchoAsync("b");
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, "  p: { algorithm: tokenBucket, limit: 20, period: 1s, burst: 20, key: { header: x-client } }"));
        var result = await LoadGenerator.RunAsync([(gw.Client, gw.Combine("/x"))], perSecond: 100, TimeSpan.FromSeconds(5), (r, _) => r.Headers.Add("x-client", "one"));

        // Burst 20, then 20/s for the time the load ran (5 s on schedule): 120 ± 10 %.
        var expected = 20 + 20 * result.SendDuration.TotalSeconds;
        output.WriteLine($"admitted {result.Ok}, limited {result.Limited}, other {result.Other} over {result.SendDuration.TotalSeconds:F2} s; expected {expected:F0} (120 on schedule)");
        Assert.Equal(0, result.Other);
        Assert.InRange(result.Ok, 108, 132);
        Assert.InRange(result.Ok, expected * 0.9, expected * 1.1);
        var status = await PolicyStatus(gw, "p");
        Assert.Equal(result.Limited, (long)status["rejected"]!);
        Assert.Equal(result.Limited, (long)status["rejectedByRoute"]!["all"]!);
    }

    [Fact]
    public async Task RejectionAnswers429WithRetryAfterAndRateLimitHeaders()
    {
        await using var backend = await TestBackend.StartEchoAsync("b");
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, "  p: { algorithm: fixedWindow, limit: 2, period: 10s }"));

        for (var i = 0; i < 2; i++)
        {
            using var ok = await gw.Client.GetAsync(gw.Combine("/x"));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var limited = await gw.Client.GetAsync(gw.Combine("/x"));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("rate_limited", limited.Headers.GetValues("x-turnpike-error").Single());
        var retryAfter = limited.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
        Assert.InRange(retryAfter, 1, 10);
        Assert.Equal("\"p\";q=2;w=10", limited.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Equal($"\"p\";r=0;t={retryAfter}", limited.Headers.GetValues("RateLimit").Single());
        using var body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
        Assert.Equal(429, body.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("rate_limited", body.RootElement.GetProperty("error").GetString());
        output.WriteLine($"Retry-After: {retryAfter}; RateLimit: {limited.Headers.GetValues("RateLimit").Single()}");
    }

    [Fact]
    public async Task ClientIpComesFromForwardedForOnlyWhenThePeerIsATrustedProxy()
    {
        await using var backend = await TestBackend.StartEchoAsync("b");
        await using var gw = await GatewayHost.StartAsync($$"""
            rateLimits:
              trusted: { algorithm: fixedWindow, limit: 2, period: 1m, key: clientIp, trustedProxies: [127.0.0.1, "10.0.0.0/8"] }
              untrusted: { algorithm: fixedWindow, limit: 2, period: 1m, key: clientIp, trustedProxies: ["10.0.0.0/8"] }
            routes:
              t: { match: { pathPrefix: /t }, cluster: c, rateLimit: trusted }
              u: { match: { pathPrefix: /u }, cluster: c, rateLimit: untrusted }
            clusters:
              c:
                destinations: { d: {{backend.Address}} }
            """);

        async Task<int> Admitted(string path, string forwardedFor, int attempts = 3)
        {
            var admitted = 0;
            for (var i = 0; i < attempts; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine(path));
                request.Headers.Add("X-Forwarded-For", forwardedFor);
                using var response = await gw.Client.SendAsync(request);
                admitted += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            return admitted;
        }

        // The peer (127.0.0.1) is trusted: each forwarded client has its own 2 requests.
        Assert.Equal(2, await Admitted("/t", "203.0.113.1"));
        Assert.Equal(2, await Admitted("/t", "203.0.113.2"));
        // A forged left-most hop does not help: the right-most untrusted hop (before the trusted 10.1.2.3) is the client.
        Assert.Equal(0, await Admitted("/t", "198.51.100.9, 203.0.113.1, 10.1.2.3"));
        Assert.Equal(2, await Admitted("/t", "203.0.113.1, 203.0.113.3"));

        // The peer is not trusted: X-Forwarded-For is ignored and every request is 127.0.0.1's.
        Assert.Equal(2, await Admitted("/u", "203.0.113.1"));
        Assert.Equal(0, await Admitted("/u", "203.0.113.2"));
    }

    [Fact]
    public async Task TenThousandDistinctKeysDoNotGrowPartitionStateWithoutBound()
    {
        await using var backend = await TestBackend.StartEchoAsync("b");
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address,
            "  p: { algorithm: tokenBucket, limit: 100, period: 1s, key: { header: x-key }, maxPartitions: 1000, idleTimeout: 1s }"));

        var maxSeen = 0;
        int admitted = 0, limited = 0;
        const int keys = 10_000;
        var next = -1;
        using var client = GatewayHost.CreateClient();
        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < keys)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/x"));
                request.Headers.Add("x-key", $"key-{i}");
                using var response = await client.SendAsync(request);
                // New keys past the cap share the overflow partition, which limits the flood as a whole.
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"status {response.StatusCode}");
                Interlocked.Increment(ref response.StatusCode == HttpStatusCode.OK ? ref admitted : ref limited);
            }
        }).ToList();
        var sampler = Task.Run(async () =>
        {
            while (!workers.All(w => w.IsCompleted))
            {
                maxSeen = Math.Max(maxSeen, (int)(await PolicyStatus(gw, "p"))["partitions"]!);
                await Task.Delay(100);
            }
        });
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        await sampler;

        var after = await PolicyStatus(gw, "p");
        output.WriteLine($"{keys} keys: {admitted} admitted, {limited} limited (overflow partition)");
        output.WriteLine($"during the flood: at most {maxSeen} partitions sampled; after: {after.ToJsonString()}");
        Assert.InRange((int)after["partitions"]!, 0, 1000 + 16);
        Assert.InRange(maxSeen, 0, 1000 + 16);
        // Keys past the cap shared the overflow partition or found room that eviction made: nothing grew past the cap.
        Assert.True((long)after["overflow"]! + (long)after["evicted"]! >= keys - 1000 - 16);

        // Idle partitions go away by themselves (idle timeout 1 s, swept every 250 ms).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        JsonObject status;
        while ((int)(status = await PolicyStatus(gw, "p"))["partitions"]! > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        output.WriteLine($"after idling: {status.ToJsonString()}");
        Assert.Equal(0, (int)status["partitions"]!);
        Assert.True((long)status["evicted"]! >= 1000);
    }
}
