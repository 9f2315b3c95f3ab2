using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.RateLimiting;

namespace Turnpike.Tests.RateLimiting;

public sealed class RateLimitHeadersTests
{
    [Theory]
    [InlineData(RateLimitAlgorithm.TokenBucket, 100, 60_000, "\"api\";q=100;w=60")]
    [InlineData(RateLimitAlgorithm.FixedWindow, 5, 500, "\"api\";q=10;w=1")] // w is whole seconds
    [InlineData(RateLimitAlgorithm.Concurrency, 3, 0, "\"api\";q=3")]
    public void PolicyHeaderGivesQuotaPerWindow(RateLimitAlgorithm algorithm, int limit, int periodMs, string expected)
    {
        var config = new RateLimitPolicyConfig { Name = "api", Algorithm = algorithm, Limit = limit, Period = TimeSpan.FromMilliseconds(periodMs) };
        Assert.Equal(expected, RateLimitHeaders.FormatPolicy(config));
    }

    [Theory]
    [InlineData(2300, "3")]
    [InlineData(100, "1")]
    [InlineData(0, "1")]
    [InlineData(600_000, "600")]
    public void RetryAfterIsWholeSecondsRoundedUp(int waitMs, string seconds)
    {
        IHeaderDictionary headers = new HeaderDictionary();
        new RateLimitHeaders(new RateLimitPolicyConfig { Name = "api", Limit = 1 }).Apply(headers, TimeSpan.FromMilliseconds(waitMs));
        Assert.Equal(seconds, headers.RetryAfter.ToString());
        Assert.Equal($"\"api\";r=0;t={seconds}", headers["RateLimit"].ToString());
        Assert.Equal("\"api\";q=1;w=1", headers["RateLimit-Policy"].ToString());
    }
}
