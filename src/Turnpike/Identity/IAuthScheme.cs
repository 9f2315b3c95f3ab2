using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Turnpike.Identity;

/// <summary>
/// One named authentication scheme (a JWT issuer, a set of API keys …), built once per config load. A route lists
/// the schemes that may authenticate its requests; the first that finds its credentials decides.
/// </summary>
internal interface IAuthScheme
{
    /// <summary>The scheme's name in the configuration (its key under <c>authSchemes</c>).</summary>
    string Name { get; }

    /// <summary>The <c>WWW-Authenticate</c> challenge sent with a 401 for this scheme (e.g. <c>Bearer realm="api"</c>).</summary>
    string Challenge { get; }

    /// <summary>
    /// Looks for this scheme's credentials on the request and checks them. Returns
    /// <see cref="AuthOutcome.NoCredentials"/> when the request carries none for this scheme (the next scheme may
    /// try), <see cref="AuthOutcome.Success"/> with the principal, or <see cref="AuthOutcome.Failure"/> with a short
    /// reason (counted per scheme and reason; never shown to the client beyond the 401). Never throws for bad input.
    /// </summary>
    ValueTask<AuthResult> AuthenticateAsync(HttpContext context);
}

internal enum AuthOutcome
{
    NoCredentials,
    Success,
    Failure,
}

/// <summary>What a scheme concluded. <paramref name="Reason"/> is a stable snake_case word (<c>expired</c>, <c>bad_signature</c>, <c>unknown_key</c> …).</summary>
internal readonly record struct AuthResult(AuthOutcome Outcome, ClaimsPrincipal? Principal, string? Reason)
{
    public static AuthResult None => new(AuthOutcome.NoCredentials, null, null);

    public static AuthResult Ok(ClaimsPrincipal principal) => new(AuthOutcome.Success, principal, null);

    public static AuthResult Fail(string reason) => new(AuthOutcome.Failure, null, reason);
}
