using Turnpike.Configuration;
using Turnpike.Retries;

namespace Turnpike.Tests.Retries;

public sealed class RetryPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 4, 12, 0, 0, TimeSpan.Zero);

    private static RetryPolicy Configured(RouteRetryConfig? config = null, int destinations = 3) =>
        RetryPolicy.Create(config ?? new RouteRetryConfig { Attempts = 3, OnTimeout = true, OnReset = true }, destinations);

    [Theory]
    [InlineData(3, 2)]
    [InlineData(2, 2)]
    [InlineData(1, 1)]
    public void WithoutARetryBlockOnlyNeverSentFailuresAreRetriedOnce(int destinations, int maxAttempts)
    {
        var policy = RetryPolicy.Create(null, destinations);
        Assert.False(policy.Configured);
        Assert.Equal(maxAttempts, policy.MaxAttempts);
        Assert.Equal(destinations > 1, policy.ShouldRetry(RetryTrigger.ConnectFailure, 1, "POST", BodyReplay.NotReplayable));
        Assert.False(policy.ShouldRetry(RetryTrigger.ConnectFailure, 2, "GET", BodyReplay.NoBody));
        foreach (var trigger in new[] { RetryTrigger.Status, RetryTrigger.Timeout, RetryTrigger.Reset })
        {
            Assert.False(policy.ShouldRetry(trigger, 1, "GET", BodyReplay.NoBody, 503));
        }

        Assert.False(policy.IsRetryableStatus(503));
        Assert.Equal(BodyReplay.NotReplayable, policy.PlanBody("PUT", 10, mayHaveBody: true));
    }

    [Theory]
    // method, body, trigger, status → retried?
    [InlineData("GET", "NoBody", "Status", 503, true)]
    [InlineData("GET", "NoBody", "Status", 502, true)]
    [InlineData("GET", "NoBody", "Status", 504, true)]
    [InlineData("GET", "NoBody", "Status", 500, false)]
    [InlineData("GET", "NoBody", "Status", 429, false)]
    [InlineData("GET", "NoBody", "Status", 404, false)]
    [InlineData("GET", "NoBody", "Timeout", 0, true)]
    [InlineData("GET", "NoBody", "Reset", 0, true)]
    [InlineData("HEAD", "NoBody", "Status", 503, true)]
    [InlineData("OPTIONS", "NoBody", "Status", 503, true)]
    [InlineData("TRACE", "NoBody", "Status", 503, true)]
    [InlineData("DELETE", "NoBody", "Reset", 0, true)]
    [InlineData("PUT", "Buffered", "Status", 503, true)]
    [InlineData("PUT", "Buffered", "Timeout", 0, true)]
    [InlineData("PUT", "NotReplayable", "Status", 503, false)]
    [InlineData("PUT", "NotReplayable", "Reset", 0, false)]
    [InlineData("GET", "NotReplayable", "Status", 503, false)]
    [InlineData("POST", "NoBody", "Status", 503, false)]
    [InlineData("POST", "Buffered", "Status", 503, false)]
    [InlineData("POST", "Buffered", "Timeout", 0, false)]
    [InlineData("POST", "Buffered", "Reset", 0, false)]
    [InlineData("PATCH", "Buffered", "Reset", 0, false)]
    [InlineData("POST", "NotReplayable", "ConnectFailure", 0, true)]
    [InlineData("PATCH", "NotReplayable", "ConnectFailure", 0, true)]
    [InlineData("POST", "NoBody", "Refused", 0, true)]
    [InlineData("POST", "Buffered", "Refused", 0, true)]
    [InlineData("POST", "NotReplayable", "Refused", 0, false)]
    public void DecidesByMethodBodyAndTrigger(string method, string body, string trigger, int status, bool expected)
    {
        Assert.Equal(expected, Configured().ShouldRetry(Enum.Parse<RetryTrigger>(trigger), 1, method, Enum.Parse<BodyReplay>(body), status));
    }

    [Theory]
    [InlineData("POST", "Buffered", "Status", 503, true)]
    [InlineData("PATCH", "NoBody", "Reset", 0, true)]
    [InlineData("POST", "Buffered", "Timeout", 0, true)]
    [InlineData("POST", "NotReplayable", "Status", 503, false)] // opting in does not make a stream replayable
    [InlineData("POST", "NotReplayable", "ConnectFailure", 0, true)]
    public void NonIdempotentOptInAllowsAnyMethod(string method, string body, string trigger, int status, bool expected)
    {
        var policy = Configured(new RouteRetryConfig { Attempts = 3, OnTimeout = true, OnReset = true, NonIdempotent = true });
        Assert.Equal(expected, policy.ShouldRetry(Enum.Parse<RetryTrigger>(trigger), 1, method, Enum.Parse<BodyReplay>(body), status));
    }

    [Fact]
    public void KeywordsAreOffUnlessListed()
    {
        var policy = Configured(new RouteRetryConfig { Attempts = 3 });
        Assert.True(policy.ShouldRetry(RetryTrigger.Status, 1, "GET", BodyReplay.NoBody, 503));
        Assert.False(policy.ShouldRetry(RetryTrigger.Timeout, 1, "GET", BodyReplay.NoBody));
        Assert.False(policy.ShouldRetry(RetryTrigger.Reset, 1, "GET", BodyReplay.NoBody));
    }

    [Fact]
    public void StatusListReplacesTheDefaults()
    {
        var policy = Configured(new RouteRetryConfig { Statuses = [429, 500, 599] });
        Assert.True(policy.RetriesStatuses);
        Assert.Equal([429, 500, 599], Enumerable.Range(300, 400).Where(policy.IsRetryableStatus));
        Assert.False(Configured(new RouteRetryConfig { Statuses = [] }).RetriesStatuses);
    }

    [Fact]
    public void AttemptsCapEveryKindOfRetry()
    {
        var policy = Configured();
        Assert.True(policy.ShouldRetry(RetryTrigger.Status, 2, "GET", BodyReplay.NoBody, 503));
        Assert.False(policy.ShouldRetry(RetryTrigger.Status, 3, "GET", BodyReplay.NoBody, 503));
        Assert.False(policy.ShouldRetry(RetryTrigger.ConnectFailure, 3, "GET", BodyReplay.NoBody));
        var once = Configured(new RouteRetryConfig { Attempts = 1 });
        Assert.False(once.ShouldRetry(RetryTrigger.ConnectFailure, 1, "GET", BodyReplay.NoBody));
    }

    [Fact]
    public void SingleDestinationRetriesStatusesButNotNeverSentFailures()
    {
        var policy = Configured(destinations: 1);
        Assert.True(policy.ShouldRetry(RetryTrigger.Status, 1, "GET", BodyReplay.NoBody, 503));
        Assert.True(policy.ShouldRetry(RetryTrigger.Timeout, 1, "GET", BodyReplay.NoBody));
        Assert.False(policy.ShouldRetry(RetryTrigger.ConnectFailure, 1, "GET", BodyReplay.NoBody));
        Assert.False(policy.ShouldRetry(RetryTrigger.Refused, 1, "GET", BodyReplay.NoBody));
    }

    [Theory]
    [InlineData("GET", null, false, "NoBody")]
    [InlineData("PUT", 0L, true, "NoBody")]
    [InlineData("PUT", 100L, true, "Buffered")]
    [InlineData("PUT", 65536L, true, "Buffered")]
    [InlineData("PUT", 65537L, true, "NotReplayable")]
    [InlineData("PUT", null, true, "NotReplayable")] // chunked or HTTP/2 without Content-Length
    [InlineData("POST", 100L, true, "NotReplayable")] // never retried after reaching the upstream: no need to buffer
    [InlineData("POST", null, false, "NoBody")]
    public void PlansTheBody(string method, long? contentLength, bool mayHaveBody, string expected)
    {
        Assert.Equal(Enum.Parse<BodyReplay>(expected), Configured().PlanBody(method, contentLength, mayHaveBody));
    }

    [Fact]
    public void ZeroReplaySizeBuffersNothing()
    {
        var policy = Configured(new RouteRetryConfig { MaxReplayBodySize = 0 });
        Assert.Equal(BodyReplay.NotReplayable, policy.PlanBody("PUT", 1, mayHaveBody: true));
        Assert.Equal(BodyReplay.NoBody, policy.PlanBody("GET", null, mayHaveBody: false));
    }

    [Fact]
    public void OptedInPostIsBuffered()
    {
        var policy = Configured(new RouteRetryConfig { NonIdempotent = true });
        Assert.Equal(BodyReplay.Buffered, policy.PlanBody("POST", 100, mayHaveBody: true));
    }

    [Theory]
    [InlineData(503, "0", true, 0.0)]
    [InlineData(429, "1", true, 1000.0)]
    [InlineData(429, "2", false, null)]
    [InlineData(503, "Wed, 04 Mar 2026 12:00:01 GMT", true, 1000.0)]
    [InlineData(503, "Wed, 04 Mar 2026 12:00:30 GMT", false, null)]
    [InlineData(503, "", true, null)] // no header: backoff
    [InlineData(503, "garbage", true, null)] // unreadable: ignored, backoff
    [InlineData(502, "30", true, null)] // only 429 and 503 carry a meaningful Retry-After
    public void HonoursShortRetryAfterAndPassesLongOnesThrough(int status, string header, bool retry, double? delayMs)
    {
        var policy = Configured(new RouteRetryConfig { MaxRetryAfter = TimeSpan.FromSeconds(1) });
        Assert.Equal(retry, policy.AcceptsRetryAfter(status, header, Now, out var delay));
        Assert.Equal(delayMs, delay?.TotalMilliseconds);
    }
}
