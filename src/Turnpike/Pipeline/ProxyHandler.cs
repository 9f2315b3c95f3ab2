using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Turnpike.Forwarding;
using Turnpike.Logging;
using Turnpike.Model;

namespace Turnpike.Pipeline;

/// <summary>
/// Turnpike's request path: route match → checks → destination choice → send upstream, in a loop that retries
/// requests which provably never reached an upstream. It reads the runtime model once per request, so a reload
/// never changes the route or cluster under a running request.
/// </summary>
internal sealed partial class ProxyHandler(GatewayState state, IUpstreamSender sender, AccessLog accessLog, TimeProvider time, ILogger<ProxyHandler> logger)
{
    public Task InvokeAsync(HttpContext context)
    {
        var snapshot = state.Current;
        var route = snapshot.Routes.Match(context.Request);
        if (route is null)
        {
            return Reject(context, null, GatewayErrorCode.NoRoute);
        }

        if (!RequestHeaderValidator.AreForwardable(context.Request.Headers))
        {
            return Reject(context, route, GatewayErrorCode.InvalidHeader);
        }

        return ForwardAsync(context, route);
    }

    private Task Reject(HttpContext context, RouteModel? route, GatewayErrorCode code) =>
        accessLog.Enabled ? RejectLoggedAsync(context, route, code) : ErrorResponses.WriteAsync(context, code);

    private async Task RejectLoggedAsync(HttpContext context, RouteModel? route, GatewayErrorCode code)
    {
        var feature = new GatewayRequestFeature { Route = route, Error = code };
        context.Features.Set<IGatewayRequestFeature>(feature);
        var sampled = accessLog.Begin(context, feature);
        await ErrorResponses.WriteAsync(context, code).ConfigureAwait(false);
        if (sampled)
        {
            accessLog.Complete(context, feature);
        }
    }

    private async Task ForwardAsync(HttpContext context, RouteModel route)
    {
        var feature = new GatewayRequestFeature { Route = route };
        context.Features.Set<IGatewayRequestFeature>(feature);
        var sampled = accessLog.Enabled && accessLog.Begin(context, feature);

        var cluster = route.Cluster;
        CancellationTokenSource? timeout = null;
        var token = context.RequestAborted;
        if (cluster.RequestTimeout > TimeSpan.Zero)
        {
            timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(cluster.RequestTimeout);
            token = timeout.Token;
        }

        try
        {
            DestinationModel? previous = null;
            for (var attempt = 1; ; attempt++)
            {
                var destination = cluster.Pick(context, previous);
                if (destination is null)
                {
                    feature.Error = GatewayErrorCode.NoHealthyDestination;
                    await ErrorResponses.WriteAsync(context, feature.Error).ConfigureAwait(false);
                    return;
                }

                feature.Destination = destination;
                feature.Attempts = attempt;
                destination.OnStart();
                var started = time.GetTimestamp();
                UpstreamResult result;
                try
                {
                    result = await sender.SendAsync(context, route, destination, token).ConfigureAwait(false);
                }
                catch
                {
                    destination.OnEnd(AttemptVerdict.Failure, time.GetElapsedTime(started));
                    throw;
                }

                // A failure of the client's own making is not the destination's fault. The elapsed time feeds
                // latency-aware balancing (p2c_ewma).
                destination.OnEnd(Verdict(result, context.Response.StatusCode), time.GetElapsedTime(started));
                if (result.Outcome == UpstreamOutcome.Success)
                {
                    return;
                }

                if (result.NeverSent && attempt < cluster.MaxAttempts && !context.Response.HasStarted)
                {
                    LogRetrying(logger, route.Id, destination.Id, ErrorResponses.ReasonOf(result.Error));
                    previous = destination;
                    ResetForRetry(context);
                    continue;
                }

                feature.Error = result.Error;
                if (result.Outcome == UpstreamOutcome.ClientError)
                {
                    return;
                }

                LogUpstreamFailure(logger, route.Id, cluster.Id, destination.Id, ErrorResponses.ReasonOf(result.Error), result.Exception?.Message);
                await ErrorResponses.WriteAsync(context, result.Error).ConfigureAwait(false);
                return;
            }
        }
        finally
        {
            timeout?.Dispose();
            if (sampled)
            {
                accessLog.Complete(context, feature);
            }
        }
    }

    /// <summary>A 5xx answer counts against the destination like a transport failure (as Envoy's consecutive_5xx).</summary>
    private static AttemptVerdict Verdict(UpstreamResult result, int status) => result.Outcome switch
    {
        UpstreamOutcome.Success => status >= 500 ? AttemptVerdict.Failure : AttemptVerdict.Success,
        UpstreamOutcome.ClientError => AttemptVerdict.ClientFault,
        _ => AttemptVerdict.Failure,
    };

    private static void ResetForRetry(HttpContext context)
    {
        // YARP records the failure on the context; the next attempt starts clean.
        context.Features.Set<Yarp.ReverseProxy.Forwarder.IForwarderErrorFeature>(null);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    [LoggerMessage(10, LogLevel.Debug, "Route {Route}: destination {Destination} failed before sending ({Reason}); trying another")]
    private static partial void LogRetrying(ILogger logger, string route, string destination, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Route {Route} → {Cluster}/{Destination}: {Reason} ({Detail})")]
    private static partial void LogUpstreamFailure(ILogger logger, string route, string cluster, string destination, string reason, string? detail);
}
