namespace Turnpike.Cors;

/// <summary>
/// One entry of a CORS policy's <c>origins</c>: <c>*</c> (any origin), an exact origin
/// (<c>https://app.example.com</c>, <c>http://localhost:3000</c>) or a wildcard over subdomains
/// (<c>https://*.example.com</c>). Parsed and normalized at config load: scheme and host lower case, a scheme's
/// default port dropped, since that is how browsers serialize the <c>Origin</c> header.
/// </summary>
internal readonly record struct OriginPattern(OriginPatternKind Kind, string Value, string Suffix)
{
    public const string Any = "*";

    /// <summary>
    /// Parses <paramref name="text"/>. For an exact origin <see cref="Value"/> is the normalized origin; for a
    /// wildcard it is the scheme prefix (<c>https://</c>) and <see cref="Suffix"/> what must follow the subdomain
    /// (<c>.example.com</c>, or <c>.example.com:8443</c> with a port). False with a message saying what is wrong.
    /// </summary>
    public static bool TryParse(string text, out OriginPattern pattern, out string error)
    {
        pattern = default;
        text = text.Trim();
        if (text == Any)
        {
            pattern = new OriginPattern(OriginPatternKind.Any, Any, string.Empty);
            error = string.Empty;
            return true;
        }

        if (text.Equals("null", StringComparison.OrdinalIgnoreCase))
        {
            error = "the opaque origin 'null' (sandboxed frames, file: pages) cannot be allowed by name: anyone can send it";
            return false;
        }

        var separator = text.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0)
        {
            error = "is not an origin: write scheme://host[:port], as https://app.example.com or https://*.example.com";
            return false;
        }

        var scheme = text[..separator].ToLowerInvariant();
        if (!char.IsAsciiLetter(scheme[0]) || !scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
        {
            error = $"'{scheme}' is not a URI scheme";
            return false;
        }

        var authority = text[(separator + 3)..];
        var pathStart = authority.IndexOfAny(['/', '?', '#']);
        if (pathStart >= 0)
        {
            var trimmed = text[..(separator + 3 + pathStart)];
            error = $"an origin has no path, query or trailing slash (the Origin header never carries one); did you mean '{trimmed}'?";
            return false;
        }

        if (authority.Contains('@', StringComparison.Ordinal))
        {
            error = "an origin has no user name or password";
            return false;
        }

        var host = authority;
        string port = string.Empty;
        var colon = authority.LastIndexOf(':');
        if (colon >= 0 && !authority.EndsWith(']'))
        {
            var portText = authority[(colon + 1)..];
            if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
            {
                error = $"'{portText}' is not a port (1-65535)";
                return false;
            }

            host = authority[..colon];
            // Browsers leave the scheme's default port out of the Origin header.
            port = (scheme, number) is ("https", 443) or ("http", 80) ? string.Empty : ":" + number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        host = host.ToLowerInvariant();
        var wildcard = host.StartsWith("*.", StringComparison.Ordinal);
        var domain = wildcard ? host[2..] : host;
        if (domain.Contains('*', StringComparison.Ordinal))
        {
            error = "'*' may only stand for the subdomain part at the start of the host, as https://*.example.com";
            return false;
        }

        if (!System.Text.Ascii.IsValid(domain))
        {
            error = $"'{domain}' is not ASCII: write an internationalized name in punycode (xn--…), as browsers send it in Origin";
            return false;
        }

        if (!IsValidHost(domain))
        {
            error = $"'{domain}' is not a host name or IP address";
            return false;
        }

        if (wildcard && domain.StartsWith('['))
        {
            error = "a wildcard needs a domain name, not an IP address";
            return false;
        }

        pattern = wildcard
            ? new OriginPattern(OriginPatternKind.Wildcard, scheme + "://", "." + domain + port)
            : new OriginPattern(OriginPatternKind.Exact, scheme + "://" + domain + port, string.Empty);
        error = string.Empty;
        return true;
    }

    /// <summary>The pattern as written in canonical form (for messages and <c>/admin/config</c>).</summary>
    public override string ToString() => Kind == OriginPatternKind.Wildcard ? Value + "*" + Suffix : Value;

    private static bool IsValidHost(string host)
    {
        if (host.Length == 0)
        {
            return false;
        }

        if (host[0] == '[')
        {
            // An IPv6 literal, as the Origin header writes it.
            return host.Length > 2 && host[^1] == ']' && System.Net.IPAddress.TryParse(host[1..^1], out var v6)
                && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        if (host[0] is '.' or '-' || host[^1] is '.' or '-' || host.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        return host.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');
    }
}

internal enum OriginPatternKind
{
    Any,
    Exact,
    Wildcard,
}
