using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Turnpike.Forwarding;
using Turnpike.Identity;
using Turnpike.Model;

namespace Turnpike.Pipeline;

/// <summary>
/// The auth step: after the header check, before rate limits (so a policy keyed by a claim sees the principal). The
/// route's schemes are tried in order; the first that finds its credentials decides. No credentials → 401 with every
/// scheme's challenge; rejected credentials → 401 with <c>error="invalid_token"</c>; authenticated but not allowed by
/// the route's rules → 403. A scheme that throws is a 401 (<c>internal_error</c>): auth never fails open. A token cache
/// hit completes synchronously (no state machine).
/// </summary>
internal sealed partial class ProxyHandler
{
    private Task AuthenticateThenForward(HttpContext context, RouteModel route, RouteAuth auth)
    {
        var schemes = auth.Schemes;
        for (var i = 0; i < schemes.Length; i++)
        {
            ValueTask<AuthResult> pending;
            try
            {
                pending = schemes[i].AuthenticateAsync(context);
            }
            catch (Exception ex)
            {
                LogAuthError(logger, schemes[i].Name, route.Id, ex);
                return Decide(context, route, auth, i, AuthResult.Fail(AuthReasons.InternalError));
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return AuthenticateSlowAsync(context, route, auth, i, pending);
            }

            var result = pending.Result;
            if (result.Outcome != AuthOutcome.NoCredentials)
            {
                return Decide(context, route, auth, i, result);
            }
        }

        return Decide(context, route, auth, -1, AuthResult.None);
    }

    private async Task AuthenticateSlowAsync(HttpContext context, RouteModel route, RouteAuth auth, int index, ValueTask<AuthResult> pending)
    {
        var schemes = auth.Schemes;
        for (var i = index; i < schemes.Length; i++)
        {
            AuthResult result;
            try
            {
                result = i == index ? await pending.ConfigureAwait(false) : await schemes[i].AuthenticateAsync(context).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogAuthError(logger, schemes[i].Name, route.Id, ex);
                result = AuthResult.Fail(AuthReasons.InternalError);
            }

            if (result.Outcome != AuthOutcome.NoCredentials)
            {
                await Decide(context, route, auth, i, result).ConfigureAwait(false);
                return;
            }
        }

        await Decide(context, route, auth, -1, AuthResult.None).ConfigureAwait(false);
    }

    private Task Decide(HttpContext context, RouteModel route, RouteAuth auth, int scheme, AuthResult result)
    {
        if (result.Outcome == AuthOutcome.NoCredentials)
        {
            // Counted against the route's first scheme: it is the one a client was expected to use.
            auth.Counters[0].OnFailure(AuthReasons.MissingCredentials);
            return RejectAuth(context, route, GatewayErrorCode.Unauthorized, auth.MissingChallenge);
        }

        var counters = auth.Counters[scheme];
        if (result.Outcome != AuthOutcome.Success || result.Principal is not { } principal)
        {
            counters.OnFailure(result.Reason ?? AuthReasons.InternalError);
            return RejectAuth(context, route, GatewayErrorCode.Unauthorized, auth.InvalidChallenges[scheme]);
        }

        if (auth.Rules is { } rules && !rules.Allows(principal))
        {
            counters.OnFailure(AuthReasons.Forbidden);
            return RejectAuth(context, route, GatewayErrorCode.Forbidden, auth.ForbiddenChallenges[scheme]);
        }

        counters.OnSuccess();
        context.User = principal;
        auth.PrepareUpstreamRequest(context.Request, principal);
        return route.RateLimits is { } limits ? AsTask(LimitThenForward(context, route, limits)) : ForwardAsync(context, route);
    }

    private Task RejectAuth(HttpContext context, RouteModel route, GatewayErrorCode code, StringValues challenge)
    {
        if (accessLog.Enabled)
        {
            return RejectAuthLoggedAsync(context, route, code, challenge);
        }

        if (!ErrorResponses.TryBegin(context, code))
        {
            return Task.CompletedTask;
        }

        context.Response.Headers.WWWAuthenticate = challenge;
        return ErrorResponses.WriteBodyAsync(context, code);
    }

    private async Task RejectAuthLoggedAsync(HttpContext context, RouteModel route, GatewayErrorCode code, StringValues challenge)
    {
        var feature = new GatewayRequestFeature { Route = route, Error = code };
        context.Features.Set<IGatewayRequestFeature>(feature);
        var sampled = accessLog.Begin(context, feature);
        if (ErrorResponses.TryBegin(context, code))
        {
            context.Response.Headers.WWWAuthenticate = challenge;
            await ErrorResponses.WriteBodyAsync(context, code).ConfigureAwait(false);
        }

        if (sampled)
        {
            accessLog.Complete(context, feature);
        }
    }

    [LoggerMessage(30, LogLevel.Error, "Auth scheme {Scheme} threw on route {Route}; the request is refused (401)")]
    private static partial void LogAuthError(ILogger logger, string scheme, string route, Exception ex);
}
