using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class RetryConfigTests
{
    /// <summary>Route "r" with <paramref name="route"/> as extra keys (indented under the route), cluster "c" with <paramref name="cluster"/>.</summary>
    private static ConfigLoadResult Read(string route, string cluster = "")
    {
        static string Indent(string yaml) => string.Join("\n", yaml.Split('\n').Select(l => "    " + l));
        return YamlConfigReader.Read(
            "listeners: { l: { port: 0 } }\n"
            + "routes:\n  r:\n    match: { pathPrefix: /api }\n    cluster: c\n" + Indent(route) + "\n"
            + "clusters:\n  c:\n    destinations: { d: 'http://127.0.0.1:1' }\n" + Indent(cluster) + "\n",
            "retry.yaml");
    }

    [Fact]
    public void ReadsEveryRetryKey()
    {
        var result = Read("""
            timeout: 10s
            retry:
              attempts: 3
              on: [502, 503, 504, 429, timeout, reset]
              perTryTimeout: 2s
              backoff: { base: 10ms, max: 1s }
              maxRetryAfter: 3s
              maxReplayBodySize: 128KiB
              nonIdempotent: true
            """, "retryBudget: { ratio: 0.5, minPerSecond: 3, window: 30s }");
        Assert.Empty(result.Errors);
        var route = Assert.Single(result.Config!.Routes);
        Assert.Equal(TimeSpan.FromSeconds(10), route.Timeout);
        var retry = route.Retry!;
        Assert.Equal(3, retry.Attempts);
        Assert.Equal([502, 503, 504, 429], retry.Statuses);
        Assert.True(retry.OnTimeout);
        Assert.True(retry.OnReset);
        Assert.Equal(TimeSpan.FromSeconds(2), retry.PerTryTimeout);
        Assert.Equal(new RetryBackoffConfig { Base = TimeSpan.FromMilliseconds(10), Max = TimeSpan.FromSeconds(1) }, retry.Backoff);
        Assert.Equal(TimeSpan.FromSeconds(3), retry.MaxRetryAfter);
        Assert.Equal(128 * 1024, retry.MaxReplayBodySize);
        Assert.True(retry.NonIdempotent);
        Assert.Equal(new RetryBudgetConfig { Ratio = 0.5, MinPerSecond = 3, Window = TimeSpan.FromSeconds(30) }, result.Config.Clusters[0].RetryBudget);
    }

    [Fact]
    public void AbsentBlocksKeepTodaysBehaviourAndDefaults()
    {
        var result = Read("order: 0");
        Assert.Empty(result.Errors);
        var route = result.Config!.Routes[0];
        Assert.Null(route.Timeout);
        Assert.Null(route.Retry);
        Assert.Equal(new RetryBudgetConfig(), result.Config.Clusters[0].RetryBudget);
    }

    [Fact]
    public void EmptyRetryBlockTakesTheDefaults()
    {
        var result = Read("retry:");
        Assert.Empty(result.Errors);
        var retry = result.Config!.Routes[0].Retry!;
        Assert.Equal(2, retry.Attempts);
        Assert.Equal([502, 503, 504], retry.Statuses);
        Assert.False(retry.OnTimeout || retry.OnReset || retry.NonIdempotent);
        Assert.Equal(TimeSpan.Zero, retry.PerTryTimeout);
        Assert.Equal((TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(250)), (retry.Backoff.Base, retry.Backoff.Max));
        Assert.Equal(TimeSpan.FromSeconds(1), retry.MaxRetryAfter);
        Assert.Equal(64 * 1024, retry.MaxReplayBodySize);
    }

    [Fact]
    public void OnReplacesTheDefaultStatuses()
    {
        var retry = Read("retry: { on: [timeout] }").Config!.Routes[0].Retry!;
        Assert.Empty(retry.Statuses);
        Assert.True(retry.OnTimeout);
        Assert.Equal([503], Read("retry: { on: 503 }").Config!.Routes[0].Retry!.Statuses);
    }

    [Fact]
    public void BackoffMaxDefaultsToTenTimesAGivenBase()
    {
        var retry = Read("retry: { backoff: { base: 100ms } }").Config!.Routes[0].Retry!;
        Assert.Equal(TimeSpan.FromSeconds(1), retry.Backoff.Max);
    }

    [Fact]
    public void ZeroRouteTimeoutTurnsTheClusterTimeoutOff()
    {
        var result = Read("timeout: 0", "http: { requestTimeout: 5s }");
        Assert.Empty(result.Errors);
        Assert.Equal(TimeSpan.Zero, result.Config!.Routes[0].Timeout);
    }

    [Theory]
    [InlineData("timeout: soon", "routes.r.timeout", "not a valid duration")]
    [InlineData("retry: { attempts: 0 }", "routes.r.retry.attempts", "out of range [1, 10]")]
    [InlineData("retry: { attempts: 11 }", "routes.r.retry.attempts", "out of range [1, 10]")]
    [InlineData("retry: { on: [399] }", "routes.r.retry.on", "status 399 is out of range [400, 599]")]
    [InlineData("retry: { on: [600] }", "routes.r.retry.on", "status 600 is out of range [400, 599]")]
    [InlineData("retry: { on: [timeot] }", "routes.r.retry.on", "did you mean 'timeout'?")]
    [InlineData("retry: { on: [5xx] }", "routes.r.retry.on", "'5xx' is not a status (400-599) or one of: timeout, reset")]
    [InlineData("retry: { on: [[1]] }", "routes.r.retry.on", "items must be strings")]
    [InlineData("retry: { atempts: 3 }", "routes.r.retry.atempts", "did you mean 'attempts'?")]
    [InlineData("retry: { perTryTimeout: fast }", "routes.r.retry.perTryTimeout", "not a valid duration")]
    [InlineData("timeout: 1s\nretry: { perTryTimeout: 2s }", "routes.r.retry.perTryTimeout", "must not be longer than the route's timeout (1s)")]
    [InlineData("retry: { backoff: { base: 0 } }", "routes.r.retry.backoff.base", "not a valid duration")]
    [InlineData("retry: { backoff: { base: 1s, max: 10ms } }", "routes.r.retry.backoff.max", "must be at least base (1s)")]
    [InlineData("retry: { backoff: { bse: 1s } }", "routes.r.retry.backoff.bse", "did you mean 'base'?")]
    [InlineData("retry: { backoff: 25ms }", "routes.r.retry.backoff", "must be a mapping")]
    [InlineData("retry: { maxRetryAfter: -1s }", "routes.r.retry.maxRetryAfter", "not a valid duration")]
    [InlineData("retry: { maxReplayBodySize: 11MiB }", "routes.r.retry.maxReplayBodySize", "not a valid size in [0, 10485760]")]
    [InlineData("retry: { nonIdempotent: maybe }", "routes.r.retry.nonIdempotent", "not a boolean")]
    [InlineData("retry: 3", "routes.r.retry", "must be a mapping")]
    [InlineData("rerty: {}", "routes.r.rerty", "did you mean 'retry'?")]
    public void ReportsRouteMistakes(string route, string field, string message)
    {
        var result = Read(route);
        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
        Assert.All(result.Errors, e => Assert.Equal("retry.yaml", e.File));
        Assert.All(result.Errors, e => Assert.True(e.Line > 0 && e.Column > 0));
    }

    [Theory]
    [InlineData("retryBudget: { ratio: -0.1 }", "clusters.c.retryBudget.ratio", "not a number in [0, 10]")]
    [InlineData("retryBudget: { ratio: lots }", "clusters.c.retryBudget.ratio", "not a number in [0, 10]")]
    [InlineData("retryBudget: { minPerSecond: -1 }", "clusters.c.retryBudget.minPerSecond", "out of range [0, 100000]")]
    [InlineData("retryBudget: { window: 500ms }", "clusters.c.retryBudget.window", "500ms is out of range [1s, 1h]")]
    [InlineData("retryBudget: { window: 2h }", "clusters.c.retryBudget.window", "out of range [1s, 1h]")]
    [InlineData("retryBudget: { ration: 0.1 }", "clusters.c.retryBudget.ration", "did you mean 'ratio'?")]
    [InlineData("retrybudget: {}", "clusters.c.retrybudget", "did you mean 'retryBudget'?")]
    public void ReportsBudgetMistakes(string cluster, string field, string message)
    {
        var result = Read("order: 0", cluster);
        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void ErrorPointsAtTheLineOfTheValue()
    {
        var result = Read("retry:\n  attempts: 3\n  on: [503, tmeout]");
        var error = Assert.Single(result.Errors);
        Assert.Equal((8, 11), (error.Line, error.Column)); // the list given as `on`
    }
}
