using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Turnpike.Cors;
using Turnpike.Model;

namespace Turnpike.Pipeline;

/// <summary>The CORS step: right after the header check, before authentication and rate limits (a preflight carries no credentials).</summary>
internal sealed partial class ProxyHandler
{
    /// <summary>Runs when the response of a request on a CORS route starts: state is the <see cref="HttpContext"/>.</summary>
    private static readonly Func<object, Task> ApplyCorsOnStarting = static state =>
    {
        var context = (HttpContext)state;
        context.Features.Get<CorsPolicy>()?.ApplyToResponse(context.Request.Headers, context.Response.Headers);
        return Task.CompletedTask;
    };

    /// <summary>
    /// A preflight is answered here and never reaches the upstream: 204 with the policy's headers, or 403 without any
    /// <c>Access-Control-Allow-*</c> when the origin, method or a header is not allowed. Any other request goes on
    /// (null), with the policy's response headers added when its response starts, whoever writes it: the upstream or
    /// the gateway itself (429, 502 …), so the browser lets the page read the error too. A disallowed origin gets no
    /// <c>Access-Control-Allow-Origin</c>, but its request is still forwarded: the browser enforces CORS.
    /// </summary>
    private Task? HandleCors(HttpContext context, RouteModel route, CorsPolicy cors)
    {
        if (CorsPolicy.IsPreflight(context.Request))
        {
            return AnswerPreflight(context, route, cors);
        }

        context.Features.Set(cors);
        context.Response.OnStarting(ApplyCorsOnStarting, context);
        return null;
    }

    private Task AnswerPreflight(HttpContext context, RouteModel route, CorsPolicy cors)
    {
        GatewayRequestFeature? feature = null;
        var sampled = false;
        if (accessLog.Enabled)
        {
            feature = new GatewayRequestFeature { Route = route };
            context.Features.Set<IGatewayRequestFeature>(feature);
            sampled = accessLog.Begin(context, feature);
        }

        var verdict = cors.Evaluate(context.Request.Headers);
        var response = context.Response;
        Task written;
        if (verdict == PreflightVerdict.Allowed)
        {
            response.StatusCode = StatusCodes.Status204NoContent;
            cors.WritePreflightHeaders(context.Request.Headers, response.Headers);
            written = Task.CompletedTask;
        }
        else
        {
            LogPreflightRejected(logger, route.Id, cors.Name, verdict);
            response.StatusCode = StatusCodes.Status403Forbidden;
            CorsPolicy.WriteRejectedHeaders(response.Headers);
            response.Headers[ErrorResponses.ReasonHeader] = CorsPolicy.RejectedReason;
            response.ContentType = "application/json";
            response.ContentLength = CorsPolicy.RejectedBody.Length;
            written = response.Body.WriteAsync(CorsPolicy.RejectedBody).AsTask();
        }

        return sampled ? CompleteLoggedAsync(context, feature!, written) : written;
    }

    private async Task CompleteLoggedAsync(HttpContext context, GatewayRequestFeature feature, Task written)
    {
        try
        {
            await written.ConfigureAwait(false);
        }
        finally
        {
            accessLog.Complete(context, feature);
        }
    }

    [LoggerMessage(50, LogLevel.Debug, "Route {Route}: CORS preflight refused by policy {Policy} ({Verdict})")]
    private static partial void LogPreflightRejected(ILogger logger, string route, string policy, PreflightVerdict verdict);
}
