using System.Security.Claims;
using System.Text.RegularExpressions;
using Turnpike.Configuration;

namespace Turnpike.Identity.Authorization;

/// <summary>One claim rule, compiled at config load: some value of the claim equals, starts with, or matches.</summary>
internal sealed class ClaimMatcher
{
    /// <summary>Regexes run without backtracking (linear time: no ReDoS from a crafted claim value), culture-invariant.</summary>
    public const RegexOptions RegexOptionsUsed = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    private readonly string _value;
    private readonly ClaimMatchMode _mode;
    private readonly Regex? _regex;

    public ClaimMatcher(ClaimRequirementConfig config)
    {
        Claim = config.Claim;
        _value = config.Value;
        _mode = config.Mode;
        _regex = config.Mode == ClaimMatchMode.Regex ? new Regex(config.Value, RegexOptionsUsed) : null;
    }

    public string Claim { get; }

    public bool Matches(string value) => _mode switch
    {
        ClaimMatchMode.Exact => string.Equals(value, _value, StringComparison.Ordinal),
        ClaimMatchMode.Prefix => value.StartsWith(_value, StringComparison.Ordinal),
        _ => _regex!.IsMatch(value),
    };
}

/// <summary>
/// A route's <c>auth.require</c>: scopes (from <c>scope</c>, space-separated, and <c>scp</c>), roles (<c>roles</c>,
/// <c>role</c>) and claim rules. Every group given must hold. Allocation-free: claims are scanned in place.
/// </summary>
internal sealed class AuthorizationRules
{
    private static readonly string[] ScopeClaims = ["scope", "scp"];
    private static readonly string[] RoleClaims = ["roles", "role"];

    private readonly string[] _anyScopes;
    private readonly string[] _allScopes;
    private readonly string[] _anyRoles;
    private readonly string[] _allRoles;
    private readonly ClaimMatcher[] _claims;

    private AuthorizationRules(AuthRequirementsConfig config)
    {
        _anyScopes = [.. config.Scopes?.Any ?? []];
        _allScopes = [.. config.Scopes?.All ?? []];
        _anyRoles = [.. config.Roles?.Any ?? []];
        _allRoles = [.. config.Roles?.All ?? []];
        _claims = [.. config.Claims.Select(c => new ClaimMatcher(c))];
    }

    /// <summary>Null when the route requires nothing beyond authentication.</summary>
    public static AuthorizationRules? Create(AuthRequirementsConfig config) =>
        config.Scopes is null && config.Roles is null && config.Claims.Count == 0 ? null : new AuthorizationRules(config);

    public bool Allows(ClaimsPrincipal principal)
    {
        var claims = GatewayPrincipal.ClaimsOf(principal);
        if (_anyScopes.Length > 0 && !HasAny(claims, ScopeClaims, _anyScopes))
        {
            return false;
        }

        foreach (var scope in _allScopes)
        {
            if (!Has(claims, ScopeClaims, scope))
            {
                return false;
            }
        }

        if (_anyRoles.Length > 0 && !HasAny(claims, RoleClaims, _anyRoles))
        {
            return false;
        }

        foreach (var role in _allRoles)
        {
            if (!Has(claims, RoleClaims, role))
            {
                return false;
            }
        }

        foreach (var matcher in _claims)
        {
            if (!AnyClaimMatches(claims, matcher))
            {
                return false;
            }
        }

        return true;
    }

    private static bool HasAny(Claim[] claims, string[] types, string[] values)
    {
        foreach (var value in values)
        {
            if (Has(claims, types, value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when a claim of one of <paramref name="types"/> holds <paramref name="value"/> as one of its space-separated words.</summary>
    private static bool Has(Claim[] claims, string[] types, string value)
    {
        foreach (var claim in claims)
        {
            if (Array.IndexOf(types, claim.Type) >= 0 && ContainsWord(claim.Value, value))
            {
                return true;
            }
        }

        return false;
    }

    internal static bool ContainsWord(string words, string word)
    {
        var rest = words.AsSpan();
        while (rest.Length > 0)
        {
            var space = rest.IndexOf(' ');
            var current = space < 0 ? rest : rest[..space];
            if (current.SequenceEqual(word))
            {
                return true;
            }

            if (space < 0)
            {
                break;
            }

            rest = rest[(space + 1)..];
        }

        return false;
    }

    private static bool AnyClaimMatches(Claim[] claims, ClaimMatcher matcher)
    {
        foreach (var claim in claims)
        {
            if (string.Equals(claim.Type, matcher.Claim, StringComparison.Ordinal) && matcher.Matches(claim.Value))
            {
                return true;
            }
        }

        return false;
    }
}
