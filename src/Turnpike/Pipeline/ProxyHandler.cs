using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Turnpike.Concurrency;
using Turnpike.Forwarding;
using Turnpike.Logging;
using Turnpike.Model;
using Turnpike.Observability;
using Turnpike.Retries;

namespace Turnpike.Pipeline;

/// <summary>
/// Turnpike's request path: route match → checks → destination choice → send upstream, in a loop that retries
/// what the route's <see cref="RetryPolicy"/> allows: requests that provably never reached an upstream always (on
/// another destination), and with a <c>retry</c> block also retryable statuses, timeouts and resets, with backoff and
/// within the cluster's <see cref="RetryBudget"/>. It reads the runtime model once per request, so a reload never
/// changes the route or cluster under a running request.
/// </summary>
internal sealed partial class ProxyHandler(GatewayState state, IUpstreamSender sender, AccessLog accessLog, TimeProvider time, ILogger<ProxyHandler> logger, GatewayMetrics metrics, UpstreamMetrics upstreamMetrics)
{
    private readonly RequestFeatureCache _features = new();

    /// <summary>The request path as a <see cref="RequestDelegate"/> (Kestrel listeners, the tracing wrapper).</summary>
    public Task InvokeAsync(HttpContext context) => AsTask(Invoke(context));

    /// <summary>
    /// The request path as a <see cref="ValueTask"/>: the same steps as <see cref="InvokeAsync"/>, without the
    /// <see cref="Task"/> a <see cref="RequestDelegate"/> must return for a request that completes asynchronously
    /// (the raw listener calls this). The result must be awaited (or read) exactly once: it may be a pooled box.
    /// </summary>
    public ValueTask Invoke(HttpContext context)
    {
        var snapshot = state.Current;
        var route = snapshot.Routes.Match(context.Request);
        return metrics.Enabled ? InvokeMeasured(context, route) : Dispatch(context, route);
    }

    /// <summary>A pending step as a <see cref="Task"/>: <see cref="Task.CompletedTask"/> when it is done (a pooled box is
    /// handed back), else one <see cref="Task"/> over it, the smallest there is.</summary>
    private static Task AsTask(ValueTask pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult(); // hands a pooled box back
            return Task.CompletedTask;
        }

        return pending.AsTask();
    }

    private ValueTask Dispatch(HttpContext context, RouteModel? route)
    {
        if (route is null)
        {
            return new ValueTask(Reject(context, null, GatewayErrorCode.NoRoute));
        }

        if (!RequestHeaderValidator.AreForwardable(context.Request.Headers))
        {
            return new ValueTask(Reject(context, route, GatewayErrorCode.InvalidHeader));
        }

        // A CORS preflight carries no credentials: it is answered before authentication and rate limits.
        if (route.Cors is { } cors && HandleCors(context, route, cors) is { } preflight)
        {
            return new ValueTask(preflight);
        }

        if (route.Auth is { } auth)
        {
            return new ValueTask(AuthenticateThenForward(context, route, auth));
        }

        return route.RateLimits is { } limits ? LimitThenForward(context, route, limits) : ForwardCoreAsync(context, route, 0);
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

    /// <summary>
    /// The forwarding step as a <see cref="Task"/> (the authentication step's continuation). The work runs in a pooled
    /// <see cref="ValueTask"/> state machine (<see cref="ForwardCoreAsync"/>).
    /// </summary>
    private Task ForwardAsync(HttpContext context, RouteModel route) => AsTask(ForwardCoreAsync(context, route, 0));

    /// <param name="measuredSince">When metrics are recorded by this method (the start timestamp of the request); 0: not here.</param>
    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask ForwardCoreAsync(HttpContext context, RouteModel route, long measuredSince)
    {
        var policy = route.Retry;
        // Retry state only for routes that retry more than never-sent failures; the others reuse their context's feature.
        var retry = policy.Configured ? new GatewayRetryFeature { Route = route } : null;
        var feature = retry ?? _features.Rent(context, route);
        context.Features.Set<IGatewayRequestFeature>(feature);
        var sampled = accessLog.Enabled && accessLog.Begin(context, feature, measuredSince);
        route.Bandwidth?.Apply(context);

        var cluster = route.Cluster;
        cluster.RetryBudget.OnRequest();
        CancellationTokenSource? timeout = null;
        long ended = 0; // the end of the request when it is the end of the last attempt; 0: read the clock at the end
        var token = context.RequestAborted;
        if (route.RequestTimeout > TimeSpan.Zero)
        {
            timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(route.RequestTimeout);
            token = timeout.Token;
        }

        try
        {
            // Without a retry block only never-sent failures are retried, and the body never needs a second look.
            var method = context.Request.Method;
            var body = policy.Configured ? PlanBody(context.Request, policy) : BodyReplay.NotReplayable;
            if (body == BodyReplay.Buffered)
            {
                // Kept in memory (the limit is at most 10 MiB) so the next attempt can read it again from the start.
                context.Request.EnableBuffering((int)policy.MaxReplayBodySize, policy.MaxReplayBodySize);
            }

            DestinationModel? previous = null;
            var limiter = cluster.Concurrency;
            for (var attempt = 1; ; attempt++)
            {
                if (limiter is not null && !limiter.TryAcquire())
                {
                    // Over the adaptive limit: shed at once rather than queue.
                    feature.Error = GatewayErrorCode.ConcurrencyLimited;
                    await ErrorResponses.WriteAsync(context, feature.Error).ConfigureAwait(false);
                    return;
                }

                var destination = cluster.Pick(context, previous);
                if (destination is null)
                {
                    limiter?.Release(0, TimeSpan.Zero, ConcurrencyOutcome.Ignore);
                    feature.Error = GatewayErrorCode.NoHealthyDestination;
                    await ErrorResponses.WriteAsync(context, feature.Error).ConfigureAwait(false);
                    return;
                }

                feature.Destination = destination;
                feature.Attempts = attempt;
                var attemptToken = token;
                CancellationTokenSource? perTry = null;
                if (retry is not null)
                {
                    retry.RetryOnStatusAllowed = policy.RetriesStatuses && policy.MayRetryReached(attempt, method, body);
                    if (policy.PerTryTimeout > TimeSpan.Zero)
                    {
                        perTry = CancellationTokenSource.CreateLinkedTokenSource(token);
                        perTry.CancelAfter(policy.PerTryTimeout);
                        attemptToken = perTry.Token;
                        retry.PerTryTimeout = perTry;
                    }
                }

                destination.OnStart();
                // The first attempt starts with the request when metrics took its timestamp (microseconds of route
                // match and local checks apart): one clock read fewer per request.
                var started = attempt == 1 && measuredSince != 0 ? measuredSince : time.GetTimestamp();
                feature.ResponseHeadersTimestamp = 0;
                UpstreamResult result;
                try
                {
                    result = await sender.SendAsync(context, route, destination, attemptToken, started).ConfigureAwait(false);
                }
                catch
                {
                    destination.OnEnd(AttemptVerdict.Failure, time.GetElapsedTime(started));
                    limiter?.Release(started, TimeSpan.Zero, ConcurrencyOutcome.Ignore);
                    throw;
                }
                finally
                {
                    if (perTry is not null)
                    {
                        retry!.PerTryTimeout = null;
                        perTry.Dispose();
                    }
                }

                // The upstream's status (0 without an answer), including one held back for a retry. A failure of the
                // client's own making is not the destination's fault; any 5xx is (as Envoy's consecutive_5xx). The
                // verdict feeds outlier detection and the breaker, the elapsed time latency-aware balancing.
                var status = result.Status;
                var verdict = Verdict(result, status);
                // The raw client read the clock when it returned the connection: that read ends the attempt.
                var attemptEnded = result.EndedAt != 0 ? result.EndedAt : time.GetTimestamp();
                var elapsed = time.GetElapsedTime(started, attemptEnded);
                destination.OnEnd(verdict, elapsed);
                feature.UpstreamDuration += elapsed;
                if (upstreamMetrics.Enabled)
                {
                    upstreamMetrics.Attempt(destination.MetricSeries ??= upstreamMetrics.SeriesOf(cluster.Id, destination.Id), result, elapsed);
                }
                // The limiter's sample is time to response headers when they came, else the whole attempt.
                limiter?.Release(started, time.GetElapsedTime(started, feature.ResponseHeadersTimestamp is > 0 and var headers ? headers : time.GetTimestamp()), Limits.OutcomeOf(verdict));

                if (retry is { RetryStatus: not 0 })
                {
                    // Held back by the RetryingTransformer, which already took the retry from the budget.
                    var delay = retry.RetryAfter ?? policy.Backoff.Next(attempt);
                    LogRetryingStatus(logger, route.Id, attempt, destination.Id, status, delay.TotalMilliseconds);
                    upstreamMetrics.Retry(cluster.Id, "status");
                    previous = destination;
                    if (!await PrepareRetryAsync(context, feature, retry, body, delay, token).ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                if (result.Outcome == UpstreamOutcome.Success)
                {
                    // The response has been relayed whole: the request ends with the attempt (one clock read fewer).
                    ended = attemptEnded;
                    return;
                }

                if (!context.Response.HasStarted && !token.IsCancellationRequested && TriggerOf(result) is { } trigger)
                {
                    if (trigger == RetryTrigger.Refused && !policy.Configured)
                    {
                        body = PlanBody(context.Request, policy); // no body, or one that cannot be sent again
                    }

                    if (policy.ShouldRetry(trigger, attempt, method, body))
                    {
                        if (trigger is RetryTrigger.ConnectFailure or RetryTrigger.Refused)
                        {
                            // Nothing reached an upstream: fail over at once, outside the budget.
                            LogRetrying(logger, route.Id, destination.Id, ErrorResponses.ReasonOf(result.Error));
                            upstreamMetrics.Retry(cluster.Id, trigger == RetryTrigger.Refused ? "refused" : "connect_failure");
                            previous = destination;
                            if (!await PrepareRetryAsync(context, feature, retry, body, TimeSpan.Zero, token).ConfigureAwait(false))
                            {
                                return;
                            }

                            continue;
                        }

                        if (cluster.RetryBudget.TryWithdraw())
                        {
                            var delay = policy.Backoff.Next(attempt);
                            LogRetryingFailure(logger, route.Id, attempt, destination.Id, ErrorResponses.ReasonOf(result.Error), delay.TotalMilliseconds);
                            upstreamMetrics.Retry(cluster.Id, trigger == RetryTrigger.Timeout ? "timeout" : "reset");
                            previous = destination;
                            if (!await PrepareRetryAsync(context, feature, retry, body, delay, token).ConfigureAwait(false))
                            {
                                return;
                            }

                            continue;
                        }

                        LogBudgetExhausted(logger, route.Id, cluster.Id);
                    }
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
        catch when (measuredSince != 0)
        {
            // Kestrel answers 500 when the response has not started.
            Record(context, route, measuredSince, context.Response.HasStarted ? context.Response.StatusCode : StatusCodes.Status500InternalServerError);
            measuredSince = 0;
            throw;
        }
        finally
        {
            timeout?.Dispose();
            if (sampled)
            {
                accessLog.Complete(context, feature);
            }

            if (measuredSince != 0)
            {
                Record(context, route, measuredSince, context.Response.StatusCode, ended);
            }
        }
    }

    private static AttemptVerdict Verdict(in UpstreamResult result, int status) => result.Outcome switch
    {
        UpstreamOutcome.Success => status >= 500 ? AttemptVerdict.Failure : AttemptVerdict.Success,
        UpstreamOutcome.ClientError => AttemptVerdict.ClientFault,
        _ => AttemptVerdict.Failure,
    };

    private static RetryTrigger? TriggerOf(in UpstreamResult result) => result.Outcome switch
    {
        UpstreamOutcome.ConnectFailed or UpstreamOutcome.ConnectTimeout => RetryTrigger.ConnectFailure,
        UpstreamOutcome.Refused => RetryTrigger.Refused,
        UpstreamOutcome.Timeout => RetryTrigger.Timeout,
        UpstreamOutcome.UpstreamError when result.Error == GatewayErrorCode.UpstreamReset => RetryTrigger.Reset,
        _ => null,
    };

    private static BodyReplay PlanBody(HttpRequest request, RetryPolicy policy)
    {
        // Kestrel knows for certain (HTTP/2 END_STREAM, HTTP/1.1 framing); without it, go by the headers.
        var mayHaveBody = request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody
            ?? (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0);
        return policy.PlanBody(request.Method, request.ContentLength, mayHaveBody);
    }

    /// <summary>
    /// Clears what the last attempt left on the response, rewinds a buffered body and waits <paramref name="delay"/>.
    /// False when the request is over instead: the client went away, its body failed, or the route's timeout expired
    /// (then the 504 has been written).
    /// </summary>
    private async ValueTask<bool> PrepareRetryAsync(HttpContext context, GatewayRequestFeature feature, GatewayRetryFeature? retry, BodyReplay body, TimeSpan delay, CancellationToken token)
    {
        // YARP records the failure on the context and may have set a status; the next attempt starts clean.
        context.Features.Set<Yarp.ReverseProxy.Forwarder.IForwarderErrorFeature>(null);
        context.Response.Clear();
        if (retry is not null)
        {
            retry.RetryStatus = 0;
            retry.RetryAfter = null;
        }

        try
        {
            var requestBody = context.Request.Body;
            if (body == BodyReplay.Buffered && requestBody.Position != 0)
            {
                // The attempt may have stopped part-way: read the rest into the buffer, then start over.
                await requestBody.DrainAsync(token).ConfigureAwait(false);
                requestBody.Position = 0;
            }

            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, token).ConfigureAwait(false);
            }

            return true;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                feature.Error = GatewayErrorCode.ClientBodyError;
                return false;
            }

            feature.Error = GatewayErrorCode.UpstreamTimeout;
            await ErrorResponses.WriteAsync(context, feature.Error).ConfigureAwait(false);
            return false;
        }
        catch (Exception ex) when (ex is IOException or BadHttpRequestException)
        {
            feature.Error = GatewayErrorCode.ClientBodyError;
            context.Response.StatusCode = ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status400BadRequest;
            return false;
        }
    }

    [LoggerMessage(10, LogLevel.Debug, "Route {Route}: destination {Destination} failed before sending ({Reason}); trying another")]
    private static partial void LogRetrying(ILogger logger, string route, string destination, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Route {Route} → {Cluster}/{Destination}: {Reason} ({Detail})")]
    private static partial void LogUpstreamFailure(ILogger logger, string route, string cluster, string destination, string reason, string? detail);

    [LoggerMessage(12, LogLevel.Debug, "Route {Route}: attempt {Attempt} on {Destination} answered {Status}; retrying in {DelayMs:F0} ms")]
    private static partial void LogRetryingStatus(ILogger logger, string route, int attempt, string destination, int status, double delayMs);

    [LoggerMessage(13, LogLevel.Debug, "Route {Route}: attempt {Attempt} on {Destination} failed ({Reason}); retrying in {DelayMs:F0} ms")]
    private static partial void LogRetryingFailure(ILogger logger, string route, int attempt, string destination, string reason, double delayMs);

    [LoggerMessage(14, LogLevel.Debug, "Route {Route}: the retry budget of cluster {Cluster} is spent; the last failure goes to the client")]
    private static partial void LogBudgetExhausted(ILogger logger, string route, string cluster);
}
