using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>Route retry blocks, the cluster retry budget and per-route timeouts, against real backends.</summary>
public sealed class RetryTests(ITestOutputHelper output)
{
    /// <summary>
    /// One catch-all route "r" to cluster "c". <paramref name="route"/> and <paramref name="cluster"/> are extra YAML
    /// lines for the route and the cluster (indented by the helper); destinations are "name: address" pairs.
    /// </summary>
    private static string Config(string route, IEnumerable<(string Name, string Address)> destinations, string cluster = "")
    {
        static string Indent(string yaml, int spaces) =>
            string.Join("\n", yaml.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => new string(' ', spaces) + l.TrimEnd()));

        return "routes:\n  r:\n    match: { path: \"/{**rest}\" }\n    cluster: c\n" + Indent(route, 4) + "\n"
            + "clusters:\n  c:\n    destinations:\n" + string.Join("\n", destinations.Select(d => $"      {d.Name}: {d.Address}")) + "\n"
            + Indent(cluster, 4) + "\n";
    }

    private static Task<TestBackend> StatusBackendAsync(int status, Action<HttpContext>? onRequest = null) =>
        TestBackend.StartAsync(context =>
        {
            onRequest?.Invoke(context);
            context.Response.StatusCode = status;
            return context.Response.WriteAsync($"status {status}");
        });

    [Fact]
    public async Task Flaky503sAreRetriedOnTheOtherDestination()
    {
        // "flaky" answers 503 to every other request it gets; "steady" always answers. Both record which client
        // request (x-request-id) reached them.
        var flakySeen = new ConcurrentQueue<string>();
        var steadySeen = new ConcurrentQueue<string>();
        var flaky503 = new ConcurrentQueue<string>();
        var flakyHits = 0;
        await using var flaky = await TestBackend.StartAsync(context =>
        {
            var id = context.Request.Headers["x-request-id"].ToString();
            flakySeen.Enqueue(id);
            if (Interlocked.Increment(ref flakyHits) % 2 == 1)
            {
                flaky503.Enqueue(id);
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return context.Response.WriteAsync("try later");
            }

            return Echo.WriteAsync(context, "flaky");
        });
        await using var steady = await TestBackend.StartAsync(context =>
        {
            steadySeen.Enqueue(context.Request.Headers["x-request-id"].ToString());
            return Echo.WriteAsync(context, "steady");
        });
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 2\n  backoff: { base: 1ms, max: 5ms }",
            [("flaky", flaky.Address), ("steady", steady.Address)]));

        const int requests = 40;
        var failures = 0;
        for (var i = 0; i < requests; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine($"/items/{i}"));
            request.Headers.Add("x-request-id", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var response = await gw.Client.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                failures++;
            }
        }

        output.WriteLine($"{requests} requests: {failures} failures, flaky {flaky.Requests} hits ({flaky503.Count} × 503), steady {steady.Requests} hits");
        Assert.Equal(0, failures);
        Assert.NotEmpty(flaky503);
        // Every 503 was retried exactly once, and on the other destination: the steady one saw that request.
        Assert.Equal(requests + flaky503.Count, flaky.Requests + steady.Requests);
        Assert.All(flaky503, id => Assert.Contains(id, steadySeen));
        Assert.Equal(flakySeen.Count, flakySeen.Distinct().Count());
    }

    [Fact]
    public async Task PostToAResettingUpstreamReachesItOnlyOncePerClientRequest()
    {
        var hits = new ConcurrentDictionary<string, int>();
        async Task ReadThenAbort(HttpContext context)
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            hits.AddOrUpdate(context.Request.Method, 1, (_, n) => n + 1);
            context.Abort();
        }

        await using var a = await TestBackend.StartAsync(ReadThenAbort);
        await using var b = await TestBackend.StartAsync(ReadThenAbort);
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 3\n  on: [502, 503, 504, reset, timeout]\n  backoff: { base: 1ms, max: 2ms }",
            [("a", a.Address), ("b", b.Address)]));

        for (var i = 0; i < 4; i++)
        {
            using var post = await gw.Client.PostAsync(gw.Combine("/pay"), new StringContent("charge me once"));
            Assert.Equal(HttpStatusCode.BadGateway, post.StatusCode);
            Assert.Equal("upstream_reset", post.Headers.GetValues("x-turnpike-error").Single());
        }

        Assert.Equal(4, hits.GetValueOrDefault("POST"));

        // The same failure on an idempotent PUT with a small body is retried up to the attempt limit: the
        // difference is the method, not the failure.
        using var put = await gw.Client.PutAsync(gw.Combine("/doc"), new StringContent("same again"));
        Assert.Equal(HttpStatusCode.BadGateway, put.StatusCode);
        Assert.Equal(3, hits.GetValueOrDefault("PUT"));
    }

    [Fact]
    public async Task PostIsRetriedOnResetOnlyWhenTheRouteOptsIn()
    {
        var resets = 0;
        await using var resetting = await TestBackend.StartAsync(async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            Interlocked.Increment(ref resets);
            context.Abort();
        });
        await using var healthy = await TestBackend.StartEchoAsync("healthy");
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 2\n  on: [reset]\n  nonIdempotent: true\n  backoff: { base: 1ms, max: 2ms }",
            [("resetting", resetting.Address), ("healthy", healthy.Address)]));

        for (var i = 0; i < 4; i++)
        {
            using var response = await gw.Client.PostAsync(gw.Combine("/orders"), new StringContent("idempotency-key: 42"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var echo = await Echo.ReadAsync(response);
            Assert.Equal("healthy", echo.Backend);
            Assert.Equal(19, echo.BodyLength);
        }

        Assert.True(resets > 0);
    }

    [Fact]
    public async Task PerTryTimeoutMovesASlowAttemptToTheFastDestination()
    {
        await using var slow = await TestBackend.StartAsync(async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        });
        await using var fast = await TestBackend.StartEchoAsync("fast");
        await using var gw = await GatewayHost.StartAsync(Config(
            "timeout: 10s\nretry:\n  attempts: 2\n  on: [timeout]\n  perTryTimeout: 1s\n  backoff: { base: 1ms, max: 2ms }",
            [("slow", slow.Address), ("fast", fast.Address)]));

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 4; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine($"/q/{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("fast", (await Echo.ReadAsync(response)).Backend);
        }

        Assert.True(slow.Requests >= 1, "round robin sends some first attempts to the slow destination");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task PerTryTimeoutDoesNotCutAResponseWhoseHeadersArrivedInTime()
    {
        // Headers at once, body after 1.5 s: longer than the per-try timeout, which only covers the wait for headers.
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            await Task.Delay(1500, context.RequestAborted);
            await context.Response.WriteAsync("slow body");
        });
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  on: [timeout]\n  perTryTimeout: 500ms",
            [("d", backend.Address)]));

        using var response = await gw.Client.GetAsync(gw.Combine("/download"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("slow body", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, backend.Requests);
    }

    [Fact]
    public async Task RouteTimeoutIs504UpstreamTimeoutAcrossRetries()
    {
        await using var slowA = await TestBackend.StartAsync(async context => await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted));
        await using var slowB = await TestBackend.StartAsync(async context => await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted));
        await using var gw = await GatewayHost.StartAsync(Config(
            "timeout: 1s\nretry:\n  attempts: 5\n  on: [timeout]\n  perTryTimeout: 300ms\n  backoff: { base: 1ms, max: 2ms }",
            [("a", slowA.Address), ("b", slowB.Address)]));

        var clock = Stopwatch.StartNew();
        using var response = await gw.Client.GetAsync(gw.Combine("/slow"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream_timeout", response.Headers.GetValues("x-turnpike-error").Single());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        // 1 s allows three 300 ms tries and part of a fourth, never all five.
        Assert.InRange(slowA.Requests + slowB.Requests, 2, 4);
    }

    [Fact]
    public async Task RouteTimeoutOverridesTheClusterRequestTimeout()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            await Task.Delay(500, context.RequestAborted);
            await context.Response.WriteAsync("late but fine");
        });
        await using var gw = await GatewayHost.StartAsync(
            "routes:\n"
            + "  patient:\n    match: { pathPrefix: /patient }\n    cluster: c\n    timeout: 5s\n"
            + "  strict:\n    match: { pathPrefix: /strict }\n    cluster: c\n"
            + $"clusters:\n  c:\n    destinations:\n      d: {backend.Address}\n    http:\n      requestTimeout: 200ms\n");

        using var patient = await gw.Client.GetAsync(gw.Combine("/patient"));
        Assert.Equal(HttpStatusCode.OK, patient.StatusCode);
        Assert.Equal("late but fine", await patient.Content.ReadAsStringAsync());

        using var strict = await gw.Client.GetAsync(gw.Combine("/strict"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, strict.StatusCode);
        Assert.Equal("upstream_timeout", strict.Headers.GetValues("x-turnpike-error").Single());
    }

    [Fact]
    public async Task RetryBudgetLimitsRetriesAgainstAFailingCluster()
    {
        await using var a = await StatusBackendAsync(StatusCodes.Status503ServiceUnavailable);
        await using var b = await StatusBackendAsync(StatusCodes.Status503ServiceUnavailable);
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 3\n  backoff: { base: 1ms, max: 2ms }",
            [("a", a.Address), ("b", b.Address)],
            "retryBudget: { ratio: 0.2, minPerSecond: 1, window: 30s }"));

        const int requests = 150;
        for (var i = 0; i < requests; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine($"/x/{i}"));
            // When the budget is spent the upstream's own answer is passed through, not a gateway error.
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.False(response.Headers.Contains("x-turnpike-error"));
            Assert.Equal("status 503", await response.Content.ReadAsStringAsync());
        }

        // Without a budget: 3 attempts each = 450. With it: ≤ 20 % of the requests plus the reserve
        // (minPerSecond × window = 30).
        var attempts = a.Requests + b.Requests;
        output.WriteLine($"{requests} requests → {attempts} upstream attempts (bound {(int)(requests * 1.2) + 30}, no budget {requests * 3})");
        Assert.InRange(attempts, requests + 30, (int)(requests * 1.2) + 30);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PutBodyIsReplayedIntactOnTheSecondDestination(bool firstReadsTheBody)
    {
        var payload = RandomNumberGenerator.GetBytes(40_000);
        var expected = Convert.ToHexString(SHA256.HashData(payload));
        await using var refusing = await TestBackend.StartAsync(async context =>
        {
            if (firstReadsTheBody)
            {
                await context.Request.Body.CopyToAsync(Stream.Null);
            }

            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        });
        await using var storing = await TestBackend.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            await context.Response.WriteAsync($"{body.Length} {Convert.ToHexString(SHA256.HashData(body.ToArray()))}");
        });
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 2\n  backoff: { base: 1ms, max: 2ms }",
            [("refusing", refusing.Address), ("storing", storing.Address)]));

        for (var i = 0; i < 4; i++)
        {
            using var response = await gw.Client.PutAsync(gw.Combine("/blob"), new ByteArrayContent(payload));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"40000 {expected}", await response.Content.ReadAsStringAsync());
        }

        Assert.True(refusing.Requests >= 1);
        Assert.Equal(4, storing.Requests);
    }

    [Fact]
    public async Task BodyLargerThanTheReplayLimitIsNotRetried()
    {
        await using var backend = await StatusBackendAsync(StatusCodes.Status503ServiceUnavailable);
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 3\n  maxReplayBodySize: 1KiB\n  backoff: { base: 1ms, max: 2ms }",
            [("d", backend.Address)]));

        using var small = await gw.Client.PutAsync(gw.Combine("/small"), new ByteArrayContent(new byte[1024]));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, small.StatusCode);
        Assert.Equal(3, backend.Requests);

        using var large = await gw.Client.PutAsync(gw.Combine("/large"), new ByteArrayContent(new byte[1025]));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, large.StatusCode);
        Assert.Equal(4, backend.Requests);
    }

    [Fact]
    public async Task RetryAfterZeroIsRetriedAndThirtyIsPassedThrough()
    {
        var hits = new ConcurrentDictionary<string, int>();
        await using var backend = await TestBackend.StartAsync(context =>
        {
            // The first request for each path is rate limited with the Retry-After the path names.
            var path = context.Request.Path.Value!;
            if (hits.AddOrUpdate(path, 1, (_, n) => n + 1) == 1)
            {
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = path.TrimStart('/');
                return context.Response.WriteAsync("slow down");
            }

            return context.Response.WriteAsync("ok");
        });
        // A single destination: status retries go back to it (only never-sent failover needs another one).
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 3\n  on: [429, 503]\n  maxRetryAfter: 1s",
            [("d", backend.Address)]));

        using var zero = await gw.Client.GetAsync(gw.Combine("/0"));
        Assert.Equal(HttpStatusCode.OK, zero.StatusCode);
        Assert.Equal("ok", await zero.Content.ReadAsStringAsync());
        Assert.Equal(2, hits["/0"]);

        using var thirty = await gw.Client.GetAsync(gw.Combine("/30"));
        Assert.Equal(HttpStatusCode.TooManyRequests, thirty.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), thirty.Headers.RetryAfter?.Delta);
        Assert.Equal("slow down", await thirty.Content.ReadAsStringAsync());
        Assert.Equal(1, hits["/30"]);
    }

    [Fact]
    public async Task LastAttemptPassesTheUpstreamAnswerThroughUntouched()
    {
        await using var backend = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            context.Response.Headers["x-upstream"] = "yes";
            return context.Response.WriteAsync("upstream's own 502");
        });
        await using var gw = await GatewayHost.StartAsync(Config(
            "retry:\n  attempts: 3\n  backoff: { base: 1ms, max: 2ms }",
            [("d", backend.Address)]));

        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("yes", response.Headers.GetValues("x-upstream").Single());
        Assert.False(response.Headers.Contains("x-turnpike-error"));
        Assert.Equal("upstream's own 502", await response.Content.ReadAsStringAsync());
        Assert.Equal(3, backend.Requests);
    }

    [Fact]
    public async Task AccessLogCountsEveryAttempt()
    {
        var hits = 0;
        await using var backend = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = Interlocked.Increment(ref hits) <= 2 ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            return Task.CompletedTask;
        });
        var logPath = Path.Combine(Path.GetTempPath(), $"turnpike-retry-access-{Guid.NewGuid():N}.log");
        try
        {
            await using (var gw = await GatewayHost.StartAsync(
                $"logging:\n  accessLog:\n    path: {logPath}\n" + Config("retry:\n  attempts: 3\n  backoff: { base: 1ms, max: 2ms }", [("d", backend.Address)])))
            {
                using var response = await gw.Client.GetAsync(gw.Combine("/x"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            using var line = JsonDocument.Parse((await File.ReadAllLinesAsync(logPath)).Single());
            Assert.Equal(3, line.RootElement.GetProperty("attempts").GetInt32());
            Assert.Equal(200, line.RootElement.GetProperty("status").GetInt32());
        }
        finally
        {
            File.Delete(logPath);
        }
    }
}
