namespace Turnpike.Routing;

/// <summary>Matches the request host against exact names and "*.domain" wildcards, optionally with a port.</summary>
internal sealed class HostMatcher
{
    private readonly Pattern[] _patterns;

    public HostMatcher(IReadOnlyList<string> patterns)
    {
        _patterns = new Pattern[patterns.Count];
        for (var i = 0; i < patterns.Count; i++)
        {
            var p = patterns[i];
            int? port = null;
            var colon = p.LastIndexOf(':');
            if (colon > 0 && !p.EndsWith(']'))
            {
                port = int.Parse(p[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                p = p[..colon];
            }

            _patterns[i] = p.StartsWith("*.", StringComparison.Ordinal)
                ? new Pattern(p[1..], true, port)   // ".example.com"
                : new Pattern(p, false, port);
        }
    }

    public static bool IsValidPattern(string pattern)
    {
        var host = pattern;
        var colon = pattern.LastIndexOf(':');
        if (colon > 0)
        {
            if (!int.TryParse(pattern[(colon + 1)..], out var port) || port is < 1 or > 65535)
            {
                return false;
            }

            host = pattern[..colon];
        }

        if (host.StartsWith("*.", StringComparison.Ordinal))
        {
            host = host[2..];
        }

        return host.Length > 0 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');
    }

    public bool IsMatch(string host, int? port)
    {
        foreach (var p in _patterns)
        {
            if (p.Port is { } wanted && wanted != port)
            {
                continue;
            }

            if (p.Wildcard
                ? host.Length > p.Host.Length && host.EndsWith(p.Host, StringComparison.OrdinalIgnoreCase)
                : host.Equals(p.Host, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private readonly record struct Pattern(string Host, bool Wildcard, int? Port);
}
