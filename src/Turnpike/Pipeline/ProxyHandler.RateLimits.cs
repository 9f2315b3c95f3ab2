using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Turnpike.Forwarding;
using Turnpike.Model;
using Turnpike.RateLimiting;

namespace Turnpike.Pipeline;

/// <summary>The rate-limit step: after the route match and header check, before anything is sent upstream.</summary>
internal sealed partial class ProxyHandler
{
    /// <summary>
    /// Local token-bucket and window policies are decided synchronously (no state machine, nothing allocated when the
    /// partition exists and admits); global and concurrency policies take the async path. Policies are checked in
    /// order and the first rejection answers 429; permits already taken from earlier policies are not returned.
    /// </summary>
    private ValueTask LimitThenForward(HttpContext context, RouteModel route, RouteRateLimits limits)
    {
        if (!limits.Synchronous)
        {
            return new ValueTask(LimitThenForwardAsync(context, route, limits));
        }

        return LocalLimitsAdmit(context, route, limits, out var rejected) ? ForwardCoreAsync(context, route, 0) : new ValueTask(rejected);
    }

    /// <summary>The synchronous policies of <paramref name="limits"/>: true when all admit, else the 429 being written.</summary>
    private bool LocalLimitsAdmit(HttpContext context, RouteModel route, RouteRateLimits limits, out Task rejected)
    {
        var policies = limits.Policies;
        for (var i = 0; i < policies.Length; i++)
        {
            var policy = policies[i];
            var decision = policy.AcquireLocal(context, route);
            if (!decision.Allowed)
            {
                policy.Counters.OnRejected(limits.Rejected[i]);
                rejected = RejectRateLimited(context, route, policy, decision.RetryAfter);
                return false;
            }

            policy.Counters.OnAdmitted();
        }

        rejected = Task.CompletedTask;
        return true;
    }

    private async Task LimitThenForwardAsync(HttpContext context, RouteModel route, RouteRateLimits limits)
    {
        var policies = limits.Policies;
        RateLimitLease[]? leases = null;
        try
        {
            for (var i = 0; i < policies.Length; i++)
            {
                var policy = policies[i];
                var decision = policy.Global is null
                    ? policy.AcquireLocal(context, route)
                    : await policy.AcquireGlobalAsync(policy.PartitionOf(context, route)).ConfigureAwait(false);
                if (!decision.Allowed)
                {
                    policy.Counters.OnRejected(limits.Rejected[i]);
                    await RejectRateLimited(context, route, policy, decision.RetryAfter).ConfigureAwait(false);
                    return;
                }

                policy.Counters.OnAdmitted();
                if (decision.Lease is { } lease)
                {
                    (leases ??= new RateLimitLease[policies.Length])[i] = lease;
                }
            }

            await ForwardCoreAsync(context, route, 0).ConfigureAwait(false);
        }
        finally
        {
            if (leases is not null)
            {
                foreach (var lease in leases)
                {
                    lease?.Dispose();
                }
            }
        }
    }

    private Task RejectRateLimited(HttpContext context, RouteModel route, RateLimitPolicy policy, TimeSpan retryAfter)
    {
        if (accessLog.Enabled)
        {
            return RejectRateLimitedLoggedAsync(context, route, policy, retryAfter);
        }

        if (!ErrorResponses.TryBegin(context, GatewayErrorCode.RateLimited))
        {
            return Task.CompletedTask;
        }

        policy.Headers.Apply(context.Response.Headers, retryAfter);
        return ErrorResponses.WriteBodyAsync(context, GatewayErrorCode.RateLimited);
    }

    private async Task RejectRateLimitedLoggedAsync(HttpContext context, RouteModel route, RateLimitPolicy policy, TimeSpan retryAfter)
    {
        var feature = new GatewayRequestFeature { Route = route, Error = GatewayErrorCode.RateLimited };
        context.Features.Set<IGatewayRequestFeature>(feature);
        var sampled = accessLog.Begin(context, feature);
        if (ErrorResponses.TryBegin(context, GatewayErrorCode.RateLimited))
        {
            policy.Headers.Apply(context.Response.Headers, retryAfter);
            await ErrorResponses.WriteBodyAsync(context, GatewayErrorCode.RateLimited).ConfigureAwait(false);
        }

        if (sampled)
        {
            accessLog.Complete(context, feature);
        }
    }
}
