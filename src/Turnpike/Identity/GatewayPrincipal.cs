using System.Security.Claims;

namespace Turnpike.Identity;

/// <summary>
/// The principal a scheme produces, with its claims flattened into an array once (when the token is validated or the
/// API key loaded), so authorization rules and identity forwarding scan them per request without enumerator allocations.
/// Treat it as immutable: a cached principal is shared by every request that presents the same credentials.
/// </summary>
internal sealed class GatewayPrincipal : ClaimsPrincipal
{
    public GatewayPrincipal(ClaimsIdentity identity)
        : base(identity)
    {
        AllClaims = [.. identity.Claims];
    }

    public Claim[] AllClaims { get; }

    /// <summary>The claims of any principal: the precomputed array of a <see cref="GatewayPrincipal"/>, else a copy.</summary>
    public static Claim[] ClaimsOf(ClaimsPrincipal principal) => principal is GatewayPrincipal g ? g.AllClaims : [.. principal.Claims];
}
