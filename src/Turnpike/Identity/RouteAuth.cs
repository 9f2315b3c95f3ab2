using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Turnpike.Configuration;
using Turnpike.Identity.Authorization;
using Turnpike.Identity.Jwt;

namespace Turnpike.Identity;

/// <summary>
/// A route's <c>auth</c> block at run time: its schemes in order, their counters, the compiled authorization rules
/// and the identity headers it forwards. Challenges are precomputed; nothing here is built per request.
/// </summary>
internal sealed class RouteAuth
{
    private readonly string[] _forwardHeaders;
    private readonly string[] _forwardClaims;
    private readonly bool _keepAuthorization;

    public RouteAuth(RouteAuthConfig config, IdentitySet identity)
    {
        var entries = config.Schemes.Select(n => identity.Schemes[n]).ToArray();
        Schemes = [.. entries.Select(e => e.Scheme)];
        Counters = [.. entries.Select(e => e.Counters)];
        Rules = AuthorizationRules.Create(config.Require);
        _forwardHeaders = [.. config.ForwardClaims.Select(f => f.Header)];
        _forwardClaims = [.. config.ForwardClaims.Select(f => f.Claim)];
        _keepAuthorization = config.KeepAuthorization;
        MissingChallenge = new StringValues([.. Schemes.Select(s => s.Challenge).Distinct(StringComparer.Ordinal)]);
        InvalidChallenges = [.. Schemes.Select(s => new StringValues(s is JwtAuthScheme jwt ? jwt.InvalidTokenChallenge : s.Challenge))];
        ForbiddenChallenges = [.. Schemes.Select(s => new StringValues(s is JwtAuthScheme jwt
            ? jwt.Challenge + ", error=\"insufficient_scope\"" : s.Challenge))];
    }

    public IAuthScheme[] Schemes { get; }

    public AuthCounters[] Counters { get; }

    /// <summary>Null when the route only requires authentication.</summary>
    public AuthorizationRules? Rules { get; }

    /// <summary>Every scheme's challenge (each distinct one once), for a request that brought no credentials.</summary>
    public StringValues MissingChallenge { get; }

    /// <summary>Per scheme: the challenge for credentials that were present but not accepted.</summary>
    public StringValues[] InvalidChallenges { get; }

    /// <summary>Per scheme: the challenge sent with a 403 (RFC 6750 insufficient_scope for bearer schemes).</summary>
    public StringValues[] ForbiddenChallenges { get; }

    /// <summary>
    /// Removes the client's copies of every identity header (no spoofing), sets them from <paramref name="principal"/>,
    /// and strips Authorization unless the route keeps it. Claim values that are not printable ASCII are percent-encoded
    /// (a header cannot carry them), several values of one claim are joined with commas.
    /// </summary>
    public void PrepareUpstreamRequest(HttpRequest request, ClaimsPrincipal principal)
    {
        var headers = request.Headers;
        if (!_keepAuthorization)
        {
            headers.Remove(HeaderNames.Authorization);
        }

        for (var i = 0; i < _forwardHeaders.Length; i++)
        {
            headers.Remove(_forwardHeaders[i]);
            var value = ClaimValue(principal, _forwardClaims[i]);
            if (value is not null)
            {
                headers[_forwardHeaders[i]] = value;
            }
        }
    }

    private static string? ClaimValue(ClaimsPrincipal principal, string type)
    {
        string? first = null;
        List<string>? more = null;
        foreach (var claim in GatewayPrincipal.ClaimsOf(principal))
        {
            if (!string.Equals(claim.Type, type, StringComparison.Ordinal))
            {
                continue;
            }

            if (first is null)
            {
                first = claim.Value;
            }
            else
            {
                (more ??= []).Add(claim.Value);
            }
        }

        if (first is null)
        {
            return null;
        }

        var value = more is null ? first : first + "," + string.Join(',', more);
        return IsHeaderSafe(value) ? value : Uri.EscapeDataString(value);
    }

    private static bool IsHeaderSafe(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
