using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>Route bandwidth shaping and cluster adaptive concurrency against real backends, with what they measured.</summary>
[Collection(TimingSensitive.Name)]
public sealed class ShapingTests(ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;
    private static readonly byte[] Chunk = new byte[64 * 1024];

    /// <summary>A backend whose "/bytes/N" answers N bytes (Content-Length), written in 64 KiB chunks.</summary>
    private static Task<TestBackend> StartBytesBackendAsync(HttpProtocols protocols = HttpProtocols.Http1) => TestBackend.StartAsync(async context =>
    {
        var size = long.Parse(context.Request.Path.Value!.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentLength = size;
        for (var left = size; left > 0; left -= Chunk.Length)
        {
            await context.Response.Body.WriteAsync(Chunk.AsMemory(0, (int)Math.Min(Chunk.Length, left)), context.RequestAborted);
        }

        if (context.Response.SupportsTrailers())
        {
            context.Response.AppendTrailer("x-trailer", "after-the-body");
        }
    }, protocols);

    private static string Routes(string backend, params (string Id, string Prefix, string Bandwidth)[] routes)
    {
        var yaml = "routes:\n";
        foreach (var (id, prefix, bandwidth) in routes)
        {
            yaml += $"  {id}:\n    match: {{ pathPrefix: {prefix} }}\n    cluster: c\n" + (bandwidth.Length > 0 ? $"    bandwidth: {bandwidth}\n" : string.Empty);
        }

        return yaml + $"clusters:\n  c:\n    destinations: {{ d: {backend} }}\n";
    }

    private static async Task<(long Bytes, TimeSpan Took)> DownloadAsync(HttpClient client, Uri uri, string? user = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (user is not null)
        {
            request.Headers.Add("x-user", user);
        }

        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            total += n;
        }

        return (total, clock.Elapsed);
    }

    [Fact]
    public async Task TenMiBThroughOneMiBPerSecondTakesTenSeconds()
    {
        await using var backend = await StartBytesBackendAsync();
        await using var gw = await GatewayHost.StartAsync(Routes(backend.Address,
            ("slow", "/slow", "{ bytesPerSecond: 1MiB, burst: 64KiB }"), ("fast", "/fast", string.Empty)));

        var unshaped = await DownloadAsync(gw.Client, gw.Combine($"/fast/bytes/{10 * MiB}"));
        var (bytes, took) = await DownloadAsync(gw.Client, gw.Combine($"/slow/bytes/{10 * MiB}"));

        output.WriteLine($"10 MiB unshaped: {unshaped.Took.TotalSeconds:F2} s; through 1 MiB/s (burst 64 KiB): {took.TotalSeconds:F2} s (ideal 9.94 s)");
        Assert.Equal(10 * MiB, bytes);
        Assert.InRange(took.TotalSeconds, 9.0, 11.0);
        Assert.True(unshaped.Took < TimeSpan.FromSeconds(3), $"unshaped took {unshaped.Took}");
    }

    [Fact]
    public async Task PerClientBucketsGiveEachClientItsOwnRateWhileASharedBucketSplitsIt()
    {
        await using var backend = await StartBytesBackendAsync();
        await using var gw = await GatewayHost.StartAsync(Routes(backend.Address,
            ("per", "/per", "{ bytesPerSecond: 1MiB, burst: 64KiB, perClient: 'header:x-user' }"),
            ("shared", "/shared", "{ bytesPerSecond: 1MiB, burst: 64KiB }")));
        using var other = GatewayHost.CreateClient();

        var per = await Task.WhenAll(DownloadAsync(gw.Client, gw.Combine($"/per/bytes/{2 * MiB}"), "a"), DownloadAsync(other, gw.Combine($"/per/bytes/{2 * MiB}"), "b"));
        var shared = await Task.WhenAll(DownloadAsync(gw.Client, gw.Combine($"/shared/bytes/{2 * MiB}"), "a"), DownloadAsync(other, gw.Combine($"/shared/bytes/{2 * MiB}"), "b"));

        output.WriteLine($"2 × 2 MiB at 1 MiB/s per client: {per[0].Took.TotalSeconds:F2} s and {per[1].Took.TotalSeconds:F2} s (ideal 1.94 s each)");
        output.WriteLine($"2 × 2 MiB sharing 1 MiB/s: {shared[0].Took.TotalSeconds:F2} s and {shared[1].Took.TotalSeconds:F2} s (ideal ≈ 3.9 s for the later one)");
        Assert.All(per, d => Assert.InRange(d.Took.TotalSeconds, 1.7, 2.6));
        Assert.InRange(shared.Max(d => d.Took.TotalSeconds), 3.5, 4.6);
    }

    [Fact]
    public async Task ShapedHttp2ResponseKeepsItsTrailersAndACancelledDownloadEndsTheUpstreamRequest()
    {
        await using var backend = await StartBytesBackendAsync(HttpProtocols.Http2);
        var yaml = "listeners:\n  h2c: { address: 127.0.0.1, port: 0, protocols: http2 }\n"
            + Routes(backend.Address, ("slow", "/", "{ bytesPerSecond: 1MiB, burst: 64KiB }"))
            + "    http: { version: \"2\" }\n";
        await using var gw = await GatewayHost.StartAsync(yaml);
        using var h2 = GatewayHost.CreateClient(HttpVersion.Version20);

        using (var response = await h2.GetAsync(gw.Combine($"/bytes/{256 * 1024}")))
        {
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(256 * 1024, body.Length);
            Assert.Equal("after-the-body", response.TrailingHeaders.GetValues("x-trailer").Single());
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DownloadCancellable(h2, gw.Combine($"/bytes/{10 * MiB}"), cts.Token));
        output.WriteLine($"cancelled a 10 MiB shaped download after {clock.Elapsed.TotalMilliseconds:F0} ms");
        for (var i = 0; i < 50 && await InFlight(gw) != 0; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, await InFlight(gw));
    }

    private static async Task DownloadCancellable(HttpClient client, Uri uri, CancellationToken token)
    {
        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, token);
        await using var body = await response.Content.ReadAsStreamAsync(token);
        var buffer = new byte[64 * 1024];
        while (await body.ReadAsync(buffer, token) > 0)
        {
        }
    }

    private static async Task<long> InFlight(GatewayHost gw)
    {
        var json = JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/clusters")))!;
        return (long)json["clusters"]![0]!["destinations"]![0]!["inFlight"]!;
    }

    [Fact]
    public async Task AdaptiveConcurrencyKeepsLatencyNearUnloadedAndShedsTheExcessFast()
    {
        // A backend with 8 workers and 10 ms of work per request: above 8 in flight, latency grows with the queue
        // (10 ms × in-flight / 8), as a saturated service's does.
        var inFlight = 0;
        var peak = 0;
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            var n = Interlocked.Increment(ref inFlight);
            try
            {
                if (n > Volatile.Read(ref peak))
                {
                    Volatile.Write(ref peak, n);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(10 * Math.Max(1.0, n / 8.0)));
                context.Response.StatusCode = 200;
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address,
            cluster: "adaptiveConcurrency: { algorithm: gradient, initialLimit: 8, minLimit: 3, maxLimit: 64, sampleWindow: 100ms, minRttSamples: 20 }"));

        // Unloaded: one client, one request at a time (this also lets the limiter measure minRTT).
        var unloaded = new List<double>();
        for (var i = 0; i < 150; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await gw.Client.GetAsync(gw.Combine("/u"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (i >= 20)
            {
                unloaded.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        // Loaded: 32 clients for 6 s. A shed client pauses 10 ms before its next request, as a client honouring a 503 would.
        var admitted = new List<(TimeSpan At, double Ms)>();
        var shed = new List<double>();
        var limits = new List<(TimeSpan At, int Limit)>();
        var other = 0;
        var run = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        using var client = GatewayHost.CreateClient();
        async Task Client()
        {
            for (var i = 0; i < 10_000 && !stop.IsCancellationRequested; i++)
            {
                var clock = Stopwatch.StartNew();
                using var response = await client.GetAsync(gw.Combine($"/load/{i}"));
                var ms = clock.Elapsed.TotalMilliseconds;
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    lock (admitted)
                    {
                        admitted.Add((run.Elapsed, ms));
                    }
                }
                else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.GetValues("x-turnpike-error").Single() == "concurrency_limited")
                {
                    lock (shed)
                    {
                        shed.Add(ms);
                    }

                    await Task.Delay(10);
                }
                else
                {
                    Interlocked.Increment(ref other);
                }
            }
        }

        var clients = Enumerable.Range(0, 32).Select(_ => Task.Run(Client)).ToArray();
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(250);
            limits.Add((run.Elapsed, (int)(await Concurrency(gw))["limit"]!));
        }

        await Task.WhenAll(clients);
        var status = await Concurrency(gw);

        var settled = TimeSpan.FromSeconds(2);
        var steady = admitted.Where(a => a.At > settled).Select(a => a.Ms).ToList();
        var steadyLimits = limits.Where(l => l.At > settled).Select(l => l.Limit).ToList();
        var (p50u, p99u) = (Percentile(unloaded, 0.5), Percentile(unloaded, 0.99));
        var (p50a, p90a, p99a) = (Percentile(steady, 0.5), Percentile(steady, 0.9), Percentile(steady, 0.99));
        var p50s = Percentile(shed, 0.5);
        output.WriteLine($"unloaded: p50 {p50u:F1} ms, p99 {p99u:F1} ms ({unloaded.Count} requests); minRTT {status["minRttMs"]} ms");
        output.WriteLine($"loaded 32 clients 6 s: admitted {admitted.Count} (after 2 s: {steady.Count}, p50 {p50a:F1} ms, p90 {p90a:F1} ms, p99 {p99a:F1} ms), shed {shed.Count} (p50 {p50s:F2} ms, p99 {Percentile(shed, 0.99):F2} ms), other {other}");
        output.WriteLine($"limit over time: {string.Join(" ", limits.Select(l => l.Limit))}; backend peak in flight {peak}; admin: shed {status["shed"]}, admitted {status["admitted"]}");

        Assert.Equal(0, other);
        Assert.NotEmpty(shed);
        Assert.InRange(steadyLimits.Min(), 3, 32);
        // Settled: most samples near the median. A stall on this 2-core machine makes one slow window, and the
        // gradient rightly halves the limit for a moment (seen: 16 7 8 16 17 16 …), so no min/max check.
        var median = steadyLimits.Order().ElementAt(steadyLimits.Count / 2);
        var near = steadyLimits.Count(l => Math.Abs(l - median) <= Math.Max(2, median / 4));
        Assert.True(near * 4 >= steadyLimits.Count * 3, $"limit did not settle: {string.Join(" ", steadyLimits)}");
        // Unlimited, 32 in flight would make every request 10 ms × 32 / 8 = 40 ms (3.2 × unloaded). The gradient's
        // equilibrium (buffer 0.25 and the √limit headroom) sits near 1.6 × minRTT. Compared with the unloaded median,
        // and p90 rather than p99: with 32 clients, the gateway and the backend on two cores, p99 is the scheduler's
        // (27 to 53 ms in runs on a quiet machine, with or without the raw engines), not the limiter's.
        // minRTT from the median of the first attempts: their connects and cold JIT must not inflate it.
        Assert.InRange((double)status["minRttMs"]!, 0.5 * p50u, 1.5 * p50u);
        Assert.True(p50a <= 2 * p50u, $"admitted p50 {p50a:F1} ms > 2 × unloaded p50 {p50u:F1} ms");
        Assert.True(p90a <= 2.5 * p50u, $"admitted p90 {p90a:F1} ms > 2.5 × unloaded p50 {p50u:F1} ms");
        Assert.True(p50s * 3 < p50a, $"shed p50 {p50s:F2} ms is not far below admitted p50 {p50a:F1} ms");
        Assert.Equal(shed.Count, (long)status["shed"]!);
    }

    private static async Task<JsonObject> Concurrency(GatewayHost gw)
    {
        var json = JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/clusters")))!;
        return json["clusters"]![0]!["adaptiveConcurrency"]!.AsObject();
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }
}
