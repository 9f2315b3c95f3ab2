using Microsoft.AspNetCore.Http;
using Turnpike.Model;
using Turnpike.Observability;

namespace Turnpike.Pipeline;

/// <summary>The request instruments around the whole request path (<see cref="GatewayMetrics"/>), taken only while something listens.</summary>
internal sealed partial class ProxyHandler
{
    private ValueTask InvokeMeasured(HttpContext context, RouteModel? route)
    {
        var started = time.GetTimestamp();
        metrics.RequestStarted();
        // The gateway's own answers, CORS, auth and asynchronous rate limits: measured around the whole step.
        Task task;
        try
        {
            if (route is { Cors: null, Auth: null } && RequestHeaderValidator.AreForwardable(context.Request.Headers))
            {
                // The common cases, a route without limits or with local ones that admit: ForwardCoreAsync records the
                // request in its own finally, so no second async layer (state machine box, continuation) is added.
                if (route.RateLimits is not { } limits)
                {
                    return ForwardCoreAsync(context, route, started);
                }

                if (!limits.Synchronous)
                {
                    task = LimitThenForwardAsync(context, route, limits);
                }
                else if (LocalLimitsAdmit(context, route, limits, out task))
                {
                    return ForwardCoreAsync(context, route, started);
                }
            }
            else
            {
                task = AsTask(Dispatch(context, route));
            }
        }
        catch
        {
            Record(context, route, started, StatusCodes.Status500InternalServerError);
            throw;
        }

        if (task.IsCompletedSuccessfully)
        {
            // A synchronous answer (a local 429, a gateway error written at once): no state machine.
            Record(context, route, started, context.Response.StatusCode);
            return new ValueTask(task);
        }

        return new ValueTask(AwaitMeasured(task, context, route, started));
    }

    private async Task AwaitMeasured(Task task, HttpContext context, RouteModel? route, long started)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch
        {
            // Kestrel answers an unhandled exception with 500 when the response has not started.
            Record(context, route, started, context.Response.HasStarted ? context.Response.StatusCode : StatusCodes.Status500InternalServerError);
            throw;
        }

        Record(context, route, started, context.Response.StatusCode);
    }

    /// <param name="ended">The timestamp the request ended at when the caller has it; 0: now.</param>
    private void Record(HttpContext context, RouteModel? route, long started, int status, long ended = 0) =>
        metrics.RequestCompleted(route?.MetricTags, context.Request.Method, status, time.GetElapsedTime(started, ended != 0 ? ended : time.GetTimestamp()));
}
