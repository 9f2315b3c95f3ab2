using System.Threading.RateLimiting;

namespace Turnpike.RateLimiting;

/// <summary>One policy's answer for one request. A concurrency admission carries the lease to release when the request ends.</summary>
internal readonly record struct RateLimitDecision(bool Allowed, TimeSpan RetryAfter, RateLimitLease? Lease = null)
{
    public static readonly RateLimitDecision Admitted = new(true, TimeSpan.Zero);
}
