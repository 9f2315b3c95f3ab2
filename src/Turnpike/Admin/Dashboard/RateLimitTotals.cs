using Turnpike.Model;

namespace Turnpike.Admin.Dashboard;

internal static class RateLimitTotals
{
    /// <summary>Rejections of every rate-limit policy so far (policies carried over a reload keep their counts).</summary>
    public static long Rejected(GatewaySnapshot snapshot)
    {
        long total = 0;
        foreach (var policy in snapshot.RateLimits.Policies.Values)
        {
            total += policy.Counters.Rejected;
        }

        return total;
    }
}
