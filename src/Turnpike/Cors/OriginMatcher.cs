using System.Collections.Frozen;

namespace Turnpike.Cors;

/// <summary>
/// Decides whether a request's <c>Origin</c> is allowed by a policy, built once at config load: exact origins in a
/// <see cref="FrozenSet{T}"/> (case-insensitive, as scheme and host are), wildcard subdomains as (scheme prefix,
/// domain suffix) pairs checked without allocating.
/// </summary>
internal sealed class OriginMatcher
{
    private readonly FrozenSet<string> _exact;
    private readonly OriginPattern[] _wildcards;

    public OriginMatcher(IEnumerable<OriginPattern> patterns)
    {
        var exact = new List<string>();
        var wildcards = new List<OriginPattern>();
        foreach (var p in patterns)
        {
            switch (p.Kind)
            {
                case OriginPatternKind.Any:
                    AllowsAny = true;
                    break;
                case OriginPatternKind.Exact:
                    exact.Add(p.Value);
                    break;
                default:
                    wildcards.Add(p);
                    break;
            }
        }

        _exact = exact.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _wildcards = [.. wildcards];
    }

    /// <summary>The policy lists <c>*</c>: every origin is allowed.</summary>
    public bool AllowsAny { get; }

    public bool IsAllowed(string? origin)
    {
        if (string.IsNullOrEmpty(origin))
        {
            return false;
        }

        if (AllowsAny || _exact.Contains(origin))
        {
            return true;
        }

        foreach (var w in _wildcards)
        {
            if (MatchesWildcard(origin, w.Value, w.Suffix))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// <c>https://</c> + one or more DNS labels + <c>.example.com</c> (+ the pattern's port, if any), nothing else:
    /// not the bare domain, not <c>https://evil-example.com</c>, not another scheme or port, and no user info, path
    /// or port hidden in the subdomain part.
    /// </summary>
    internal static bool MatchesWildcard(string origin, string prefix, string suffix)
    {
        if (origin.Length <= prefix.Length + suffix.Length
            || !origin.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            || !origin.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var sub = origin.AsSpan(prefix.Length, origin.Length - prefix.Length - suffix.Length);
        if (sub[0] is '.' or '-' || sub[^1] is '.' or '-')
        {
            return false;
        }

        var previous = '\0';
        foreach (var c in sub)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' || (c == '.' && previous != '.')))
            {
                return false;
            }

            previous = c;
        }

        return true;
    }
}
