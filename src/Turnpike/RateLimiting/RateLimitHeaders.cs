using System.Globalization;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;

namespace Turnpike.RateLimiting;

/// <summary>
/// The headers of a 429: <c>Retry-After</c> (whole seconds, at least 1) and the structured fields of
/// draft-ietf-httpapi-ratelimit-headers-10: <c>RateLimit-Policy: "name";q=100;w=60</c> (quota per window, fixed per
/// policy) and <c>RateLimit: "name";r=0;t=7</c> (remaining, seconds until more). Strings for waits up to
/// <see cref="Cached"/> seconds are built once per policy, so a rejection formats nothing.
/// </summary>
internal sealed class RateLimitHeaders
{
    public const string PolicyHeader = "RateLimit-Policy";
    public const string LimitHeader = "RateLimit";
    private const int Cached = 120;
    private static readonly string[] Seconds = Enumerable.Range(0, Cached + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
    private readonly string[] _limit;
    private readonly string _name;

    public RateLimitHeaders(RateLimitPolicyConfig config)
    {
        _name = config.Name;
        Policy = FormatPolicy(config);
        _limit = new string[Cached + 1];
        for (var i = 0; i <= Cached; i++)
        {
            _limit[i] = FormatLimit(i);
        }
    }

    /// <summary>The <c>RateLimit-Policy</c> value.</summary>
    public string Policy { get; }

    public static int RetryAfterSeconds(TimeSpan retryAfter) => (int)Math.Clamp(Math.Ceiling(retryAfter.TotalSeconds), 1, int.MaxValue);

    public void Apply(IHeaderDictionary headers, TimeSpan retryAfter)
    {
        var seconds = RetryAfterSeconds(retryAfter);
        headers.RetryAfter = seconds <= Cached ? Seconds[seconds] : seconds.ToString(CultureInfo.InvariantCulture);
        headers[PolicyHeader] = Policy;
        headers[LimitHeader] = seconds <= Cached ? _limit[seconds] : FormatLimit(seconds);
    }

    private string FormatLimit(int seconds) => $"\"{_name}\";r=0;t={seconds}";

    /// <summary>Quota per window in whole seconds (the draft's w is an integer): 5 per 500ms is written q=10;w=1.</summary>
    internal static string FormatPolicy(RateLimitPolicyConfig config)
    {
        if (config.Algorithm == RateLimitAlgorithm.Concurrency)
        {
            return $"\"{config.Name}\";q={config.Limit}";
        }

        var window = Math.Max(1, (long)Math.Round(config.Period.TotalSeconds));
        var quota = (long)Math.Round(config.Limit * window / config.Period.TotalSeconds);
        return $"\"{config.Name}\";q={quota};w={window}";
    }
}
