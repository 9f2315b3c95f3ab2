using Xunit.Abstractions;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Active probes, outlier ejection, circuit breakers and priority failover against real faulty backends.</summary>
[Collection(TimingSensitive.Name)]
public sealed class HealthTests(ITestOutputHelper output)
{
    private static string Cluster(string destinations, string health) => Configs.CatchAll(destinations, cluster: health);

    private static async Task<JsonObject> DestinationStatus(GatewayHost gw, string id)
    {
        var json = JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/clusters")))!;
        return json["clusters"]![0]!["destinations"]!.AsArray().Single(d => (string)d!["id"]! == id)!.AsObject();
    }

    private static async Task<string> BackendOf(GatewayHost gw, string path = "/x")
    {
        using var response = await gw.Client.GetAsync(gw.Combine(path));
        return response.Headers.TryGetValues("x-backend", out var v) ? v.Single() : $"status {(int)response.StatusCode}";
    }

    [Fact]
    public async Task KilledBackendIsEjectedAndClientsSeeNoFailuresAfterTheDetectionWindow()
    {
        await using var a = await TestBackend.StartEchoAsync("a");
        await using var b = await TestBackend.StartEchoAsync("b");
        var victim = await TestBackend.StartEchoAsync("victim");
        await using var gw = await GatewayHost.StartAsync(Cluster(
            $"a: {a.Address}\nb: {b.Address}\nvictim: {victim.Address}",
            "healthCheck: { passive: { consecutiveFailures: 2, baseEjectionTime: 60s } }"));

        for (var i = 0; i < 3; i++)
        {
            await BackendOf(gw); // warm up: the first requests JIT the whole path
        }

        var clock = Stopwatch.StartNew();
        var killedAt = TimeSpan.MaxValue;
        var failures = new List<(TimeSpan At, string What)>();
        var requests = 0;
        var victimServed = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5)); // bounded in time…
        async Task Client()
        {
            for (var i = 0; i < 5_000 && !stop.IsCancellationRequested; i++) // …and in count
            {
                string what;
                try
                {
                    using var response = await gw.Client.GetAsync(gw.Combine($"/load/{i}"));
                    what = response.IsSuccessStatusCode ? string.Empty : $"{(int)response.StatusCode}";
                    if (what.Length == 0 && response.Headers.GetValues("x-backend").Single() == "victim")
                    {
                        Interlocked.Increment(ref victimServed);
                    }
                }
                catch (HttpRequestException e)
                {
                    what = e.Message;
                }

                Interlocked.Increment(ref requests);
                if (what.Length > 0)
                {
                    lock (failures)
                    {
                        failures.Add((clock.Elapsed, what));
                    }
                }
            }
        }

        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(Client)).ToArray();
        for (var i = 0; i < 100 && Volatile.Read(ref victimServed) < 20; i++)
        {
            await Task.Delay(20);
        }

        Assert.True(Volatile.Read(ref victimServed) > 0, $"the victim served before it was killed ({Volatile.Read(ref requests)} requests, failures: {string.Join(", ", failures.Take(3).Select(f => f.What))})");
        killedAt = clock.Elapsed;
        await victim.DisposeAsync();
        await Task.WhenAll(clients);

        var window = killedAt + TimeSpan.FromSeconds(1);
        var late = failures.Where(f => f.At > window).ToList();
        Assert.True(late.Count == 0, $"failures after the detection window: {string.Join(", ", late.Select(f => $"{f.At.TotalMilliseconds:0}ms {f.What}"))}");
        output.WriteLine($"{requests} requests; killed at {killedAt.TotalMilliseconds:0} ms; {failures.Count} failures in all, {late.Count} after the 1 s detection window");
        Assert.True(requests > 200, $"only {requests} requests ran");
        var status = await DestinationStatus(gw, "victim");
        Assert.True((bool)status["ejected"]!);
        Assert.False((bool)status["eligible"]!);
    }

    [Fact]
    public async Task ActiveProbesTakeAFailingDestinationOutAndBringItBack()
    {
        var healthy = 1;
        await using var flaky = await TestBackend.StartAsync(context =>
        {
            if (context.Request.Path == "/healthz")
            {
                context.Response.StatusCode = Volatile.Read(ref healthy) == 1 ? 200 : 503;
                return Task.CompletedTask;
            }

            return Echo.WriteAsync(context, "flaky");
        });
        await using var steady = await TestBackend.StartEchoAsync("steady");
        await using var gw = await GatewayHost.StartAsync(Cluster(
            $"flaky: {flaky.Address}\nsteady: {steady.Address}",
            "healthCheck: { active: { path: /healthz, interval: 100ms, timeout: 100ms, healthyThreshold: 2, unhealthyThreshold: 2 } }"));

        Assert.Contains("flaky", await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => BackendOf(gw))));

        Volatile.Write(ref healthy, 0);
        await WaitUntil(async () => !(bool)(await DestinationStatus(gw, "flaky"))["healthy"]!);
        var served = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            served.Add(await BackendOf(gw));
        }

        Assert.All(served, s => Assert.Equal("steady", s));

        Volatile.Write(ref healthy, 1);
        await WaitUntil(async () => (bool)(await DestinationStatus(gw, "flaky"))["eligible"]!);
        served.Clear();
        for (var i = 0; i < 4; i++)
        {
            served.Add(await BackendOf(gw));
        }

        Assert.Contains("flaky", served);
    }

    [Fact]
    public async Task CircuitBreakerOpensOnAFailingDestinationAndRetriesItAfterTheBreak()
    {
        await using var broken = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = 500;
            context.Response.Headers["x-backend"] = "broken";
            return Task.CompletedTask;
        });
        await using var fine = await TestBackend.StartEchoAsync("fine");
        await using var gw = await GatewayHost.StartAsync(Cluster(
            $"broken: {broken.Address}\nfine: {fine.Address}",
            "circuitBreaker: { consecutiveFailures: 3, breakDuration: 1s, halfOpenRequests: 1, successThreshold: 1 }"));

        var served = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            served.Add(await BackendOf(gw));
        }

        // Round robin sends every other request to "broken" until three 500s open its breaker.
        Assert.Equal(3, served.Count(s => s == "broken"));
        Assert.Equal(3, broken.Requests);
        Assert.Equal("Open", (string)(await DestinationStatus(gw, "broken"))["breaker"]!);

        // After the break one trial goes through; it fails, and the breaker opens again.
        await WaitUntil(async () => (string)(await DestinationStatus(gw, "broken"))["breaker"]! == "HalfOpen");
        for (var i = 0; i < 10; i++)
        {
            await BackendOf(gw);
        }

        Assert.Equal(4, broken.Requests);
        Assert.Equal("Open", (string)(await DestinationStatus(gw, "broken"))["breaker"]!);
    }

    [Fact]
    public async Task BackupTierServesOnlyWhileThePrimaryTierIsOut()
    {
        await using var backup = await TestBackend.StartEchoAsync("backup");
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var primary = await TestBackend.StartEchoAsync("primary");
        await using var gw = await GatewayHost.StartAsync(Cluster(
            $"primary: {primary.Address}\ndead: http://127.0.0.1:{port}\nbackup: {{ address: \"{backup.Address}\", priority: 1 }}",
            "healthCheck: { passive: { consecutiveFailures: 1, baseEjectionTime: 60s, maxEjectionPercent: 100 } }"));

        // The dead primary-tier destination is ejected on its first refusal (that request is retried on the other).
        var served = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            served.Add(await BackendOf(gw));
        }

        Assert.All(served, s => Assert.Equal("primary", s));
        Assert.Equal(0, backup.Requests);
        Assert.True((bool)(await DestinationStatus(gw, "dead"))["ejected"]!);
    }

    [Fact]
    public async Task ARefusedRequestToTheOnlyPrimaryIsRetriedOnTheBackupTier()
    {
        await using var backup = await TestBackend.StartEchoAsync("backup");
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(Cluster(
            $"primary: http://127.0.0.1:{port}\nbackup: {{ address: \"{backup.Address}\", priority: 1 }}",
            "healthCheck: { passive: { consecutiveFailures: 3, baseEjectionTime: 60s } }"));

        // Every request is refused by the primary and retried on the backup until three failures eject the primary.
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("backup", await BackendOf(gw));
        }

        Assert.Equal(6, backup.Requests);
        Assert.True((bool)(await DestinationStatus(gw, "primary"))["ejected"]!);
    }

    [Fact]
    public async Task WhenNoDestinationIsEligibleTheGatewayAnswers503()
    {
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(Cluster(
            $"dead: http://127.0.0.1:{port}",
            "healthCheck: { passive: { consecutiveFailures: 1, baseEjectionTime: 60s } }"));

        using (var first = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, first.StatusCode);
        }

        using var second = await gw.Client.GetAsync(gw.Combine("/x"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal("no_healthy_destination", second.Headers.GetValues("x-turnpike-error").Single());
    }

    [Fact]
    public async Task ReloadKeepsHealthStateOfUnchangedClusters()
    {
        await using var live = await TestBackend.StartEchoAsync("live");
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        var yaml = Cluster(
            $"live: {live.Address}\ndead: http://127.0.0.1:{port}",
            "healthCheck: { passive: { consecutiveFailures: 1, baseEjectionTime: 60s } }");
        await using var gw = await GatewayHost.StartAsync(yaml);
        for (var i = 0; i < 4; i++)
        {
            await BackendOf(gw);
        }

        Assert.True((bool)(await DestinationStatus(gw, "dead"))["ejected"]!);

        // Another route is added; cluster c is untouched, so its dead destination stays out.
        await gw.WriteConfigAsync(yaml.Replace("routes:\n", "routes:\n  other:\n    match: { path: /other }\n    cluster: c\n", StringComparison.Ordinal));
        await WaitUntil(async () => (long)JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/clusters")))!["generation"]! == 2);
        Assert.True((bool)(await DestinationStatus(gw, "dead"))["ejected"]!);
        var before = live.Requests;
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("live", await BackendOf(gw));
        }

        Assert.Equal(before + 6, live.Requests);

        // Changing the cluster's health settings starts it afresh.
        await gw.WriteConfigAsync(yaml.Replace("baseEjectionTime: 60s", "baseEjectionTime: 50s", StringComparison.Ordinal));
        await WaitUntil(async () => (long)JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/clusters")))!["generation"]! == 3);
        Assert.False((bool)(await DestinationStatus(gw, "dead"))["ejected"]!);
    }

    [Fact]
    public async Task P2cEwmaSendsLittleToADestinationTenTimesSlower()
    {
        var backends = new List<TestBackend>();
        try
        {
            foreach (var (name, delay) in new[] { ("slow", 50), ("fast1", 0), ("fast2", 0) })
            {
                backends.Add(await TestBackend.StartAsync(async context =>
                {
                    // Fast ones take ~5 ms so the ratio is at least 10× on a noisy machine.
                    await Task.Delay(delay > 0 ? delay : 5);
                    await Echo.WriteAsync(context, name);
                }));
            }

            await using var gw = await GatewayHost.StartAsync(Cluster(
                $"slow: {backends[0].Address}\nfast1: {backends[1].Address}\nfast2: {backends[2].Address}",
                "loadBalancing: { policy: p2c_ewma }"));

            var counts = new Dictionary<string, int>();
            async Task Client()
            {
                for (var i = 0; i < 75; i++)
                {
                    var backend = await BackendOf(gw);
                    lock (counts)
                    {
                        counts[backend] = counts.GetValueOrDefault(backend) + 1;
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Client()));
            Assert.Equal(300, counts.Values.Sum());
            output.WriteLine($"p2c_ewma: slow {counts.GetValueOrDefault("slow")}, fast1 {counts.GetValueOrDefault("fast1")}, fast2 {counts.GetValueOrDefault("fast2")} of 300");
            Assert.True(counts.GetValueOrDefault("slow") < 30, $"slow got {counts.GetValueOrDefault("slow")} of 300");
        }
        finally
        {
            foreach (var b in backends)
            {
                await b.DisposeAsync();
            }
        }
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail("condition not reached within 5 s");
    }
}
