using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Turnpike.Configuration;

/// <summary>The top-level <c>authSchemes</c> section and the routes' <c>auth</c> blocks (issue #5).</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] JwtSchemeKeys =
    [
        "type", "issuer", "audiences", "algorithms", "jwksUrl", "discovery", "keysFile", "secret", "refreshInterval",
        "minRefreshInterval", "fetchTimeout", "clockSkew", "requiredClaims", "requireExpiration", "validTypes", "maxTokenLength",
        "tokenCache", "realm",
    ];
    private static readonly string[] ApiKeySchemeKeys = ["type", "header", "query", "keys", "keysFile"];
    private static readonly string[] AuthSchemeKeys = [.. JwtSchemeKeys.Union(ApiKeySchemeKeys)];
    private static readonly string[] TokenCacheKeys = ["maxEntries", "ttl"];
    private static readonly string[] RouteAuthKeys = ["schemes", "require", "forwardClaims", "keepAuthorization"];
    private static readonly string[] RequireKeys = ["scopes", "roles", "claims"];
    private static readonly string[] ValueSetKeys = ["any", "all"];
    private static readonly string[] ClaimMatchKeys = ["exact", "prefix", "regex"];

    /// <summary>Headers a route may not set from a claim: framing, routing and the credentials themselves.</summary>
    private static readonly string[] ReservedForwardHeaders =
    [
        "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive",
        "proxy-connection", "authorization", "cookie", "x-turnpike-error",
    ];

    private const int MinSecretBytes = 32;
    private const string EnvPrefix = "env:";

    private static GatewayConfig ReadIdentity(YamlSection top, GatewayConfig config)
    {
        var schemes = new List<AuthSchemeConfig>();
        foreach (var (name, keyNode, map, path) in top.MappingEntries("authSchemes", "type (jwt or apiKey) and its settings"))
        {
            var s = new YamlSection(top.Sink, map, path, AuthSchemeKeys);
            if (ReadAuthScheme(s, name, top.Sink.LocationOf(keyNode)) is { } scheme)
            {
                schemes.Add(scheme);
            }
        }

        var routes = ReadRouteAuth(top, config, schemes);
        return config with { AuthSchemes = schemes, Routes = routes };
    }

    private static AuthSchemeConfig? ReadAuthScheme(YamlSection s, string name, ConfigLocation location)
    {
        if (!s.Has("type"))
        {
            s.Sink.Add(location, s.Path, "needs a type: jwt or apiKey");
            return null;
        }

        var type = s.Enum("type", AuthSchemeKind.Jwt);
        var own = type == AuthSchemeKind.Jwt ? JwtSchemeKeys : ApiKeySchemeKeys;
        foreach (var key in AuthSchemeKeys)
        {
            if (s.Has(key) && Array.IndexOf(own, key) < 0)
            {
                s.Error(key, $"does not apply to a scheme of type {Camel(type.ToString())}");
            }
        }

        if (type == AuthSchemeKind.Jwt)
        {
            var jwt = ReadJwtScheme(s);
            return new AuthSchemeConfig { Name = name, Type = type, Jwt = jwt, Location = location, Fingerprint = Fingerprint(jwt) };
        }

        var apiKey = ReadApiKeyScheme(s);
        return new AuthSchemeConfig { Name = name, Type = type, ApiKey = apiKey, Location = location, Fingerprint = Fingerprint(apiKey) };
    }

    private static JwtSchemeConfig ReadJwtScheme(YamlSection s)
    {
        var d = new JwtSchemeConfig();
        string[] sources = ["jwksUrl", "discovery", "keysFile", "secret"];
        var given = sources.Where(s.Has).ToArray();
        if (given.Length != 1)
        {
            s.Sink.Add(s.Location, s.Path, given.Length == 0
                ? "needs a key source: one of jwksUrl, discovery, keysFile or secret"
                : $"give only one key source, not {string.Join(" and ", given)}");
        }

        var jwksUrl = s.String("jwksUrl");
        var discovery = s.String("discovery");
        CheckKeyUrl(s, "jwksUrl", jwksUrl);
        CheckKeyUrl(s, "discovery", discovery);
        var keysFile = s.String("keysFile");
        if (keysFile is not null)
        {
            keysFile = ResolvePath(s.Sink.File, keysFile);
            if (!File.Exists(keysFile))
            {
                s.Error("keysFile", $"file '{keysFile}' does not exist");
            }
            else if (Identity.Jwt.SigningKeySet.FromFile(keysFile, out var keyError) is null)
            {
                s.Error("keysFile", keyError!);
            }
        }

        var secret = ReadSecret(s);
        var remote = jwksUrl is not null || discovery is not null;
        var issuer = s.String("issuer");
        if (remote && issuer is null)
        {
            s.Sink.Add(s.Location, s.Path, "a scheme with keys from jwksUrl or discovery needs an issuer (an identity provider's keys sign tokens for many issuers and audiences)");
        }

        var algorithms = s.Has("algorithms") ? s.StringList("algorithms") : secret is not null ? ["HS256"] : d.Algorithms;
        if (s.Has("algorithms") && algorithms.Count == 0)
        {
            s.Error("algorithms", "must list at least one algorithm");
        }

        foreach (var alg in algorithms)
        {
            if (alg.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                s.Error("algorithms", "'none' is never accepted: unsigned tokens prove nothing");
            }
            else if (alg == "EdDSA")
            {
                s.Error("algorithms", "EdDSA is not supported by Microsoft.IdentityModel 8.x (no Ed25519 in .NET's crypto); use ES256 or RS256");
            }
            else if (!JwtSchemeConfig.SupportedAlgorithms.Contains(alg))
            {
                var suggestion = Suggestions.Closest(alg, JwtSchemeConfig.SupportedAlgorithms);
                s.Error("algorithms", $"'{alg}' is not one of: {string.Join(", ", JwtSchemeConfig.SupportedAlgorithms)}" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
            }
            else if (alg.StartsWith("HS", StringComparison.Ordinal) != (secret is not null))
            {
                s.Error("algorithms", secret is not null
                    ? $"'{alg}' cannot be verified with a shared secret; a scheme with secret accepts HS256, HS384 or HS512 only"
                    : $"'{alg}' needs a shared secret (secret:); public keys never verify HMAC tokens");
            }
        }

        var minRefresh = s.Duration("minRefreshInterval", d.MinRefreshInterval);
        if (minRefresh < TimeSpan.FromSeconds(1))
        {
            s.Error("minRefreshInterval", "must be at least 1s (it bounds how often tokens with unknown kids make the gateway fetch keys)");
            minRefresh = d.MinRefreshInterval;
        }

        var refresh = s.Duration("refreshInterval", d.RefreshInterval);
        if (refresh < minRefresh)
        {
            s.Error("refreshInterval", $"must not be shorter than minRefreshInterval ({FormatDuration(minRefresh)})");
        }

        var cache = s.Child("tokenCache", TokenCacheKeys);
        return new JwtSchemeConfig
        {
            Issuer = issuer,
            Audiences = s.StringList("audiences"),
            Algorithms = algorithms.Distinct(StringComparer.Ordinal).ToArray(),
            JwksUrl = jwksUrl,
            Discovery = discovery,
            KeysFile = keysFile,
            Secret = secret,
            RefreshInterval = refresh,
            MinRefreshInterval = minRefresh,
            FetchTimeout = s.Duration("fetchTimeout", d.FetchTimeout),
            ClockSkew = s.Duration("clockSkew", d.ClockSkew, allowZero: true),
            RequiredClaims = s.StringList("requiredClaims"),
            RequireExpiration = s.Bool("requireExpiration", d.RequireExpiration),
            ValidTypes = s.StringList("validTypes"),
            MaxTokenLength = (int)s.Size("maxTokenLength", d.MaxTokenLength, 256, 1024 * 1024),
            TokenCacheMaxEntries = cache?.Int("maxEntries", d.TokenCacheMaxEntries, 0, 10_000_000) ?? d.TokenCacheMaxEntries,
            TokenCacheTtl = cache?.Duration("ttl", d.TokenCacheTtl) ?? d.TokenCacheTtl,
            Realm = s.String("realm", d.Realm)!,
        };
    }

    /// <summary>Key URLs are https; plain http only to a loopback address (a test or sidecar issuer).</summary>
    private static void CheckKeyUrl(YamlSection s, string key, string? url)
    {
        if (url is null)
        {
            return;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            s.Error(key, $"'{url}' is not an absolute http(s) URL");
        }
        else if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
        {
            s.Error(key, $"'{url}' must use https (plain http is allowed to loopback addresses only): keys fetched in clear text can be replaced");
        }
    }

    /// <summary><c>secret</c>: the text itself, or <c>env:NAME</c> for an environment variable; at least 32 bytes (RFC 7518 §3.2).</summary>
    private static string? ReadSecret(YamlSection s)
    {
        var secret = s.String("secret");
        if (secret is null)
        {
            return null;
        }

        if (secret.StartsWith(EnvPrefix, StringComparison.Ordinal))
        {
            var variable = secret[EnvPrefix.Length..];
            secret = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(secret))
            {
                s.Error("secret", $"environment variable '{variable}' is not set");
                return null;
            }
        }

        if (Encoding.UTF8.GetByteCount(secret) < MinSecretBytes)
        {
            s.Error("secret", $"must be at least {MinSecretBytes} bytes (HS256 needs a key as long as its hash)");
        }

        return secret;
    }

    private static ApiKeySchemeConfig ReadApiKeyScheme(YamlSection s)
    {
        var header = s.String("header");
        var query = s.String("query");
        if (header is not null && query is not null)
        {
            s.Error("query", "give header or query, not both");
        }

        if (header is null && query is null)
        {
            header = DefaultApiKeyHeader;
        }

        var entries = new List<ApiKeyEntry>();
        foreach (var (consumer, keyNode, value) in s.Entries("keys"))
        {
            var field = s.FieldPath("keys") + "." + consumer;
            if (value is not YamlScalarNode { Value: { Length: > 0 } key })
            {
                s.Sink.Add(value, field, "must be the key (a string)");
                continue;
            }

            if (key.Length < 16)
            {
                s.Sink.Add(value, field, "keys must be at least 16 characters");
            }

            entries.Add(new ApiKeyEntry(consumer, SHA256.HashData(Encoding.UTF8.GetBytes(key))));
        }

        var keysFile = s.String("keysFile");
        if (keysFile is not null)
        {
            keysFile = ResolvePath(s.Sink.File, keysFile);
            ReadApiKeyFile(s, keysFile, entries);
        }

        if (entries.Count == 0 && s.Sink.Errors.Count == 0)
        {
            s.Sink.Add(s.Location, s.Path, "an apiKey scheme needs keys (consumer: key) or a keysFile");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (!seen.Add(Convert.ToHexString(e.Sha256)))
            {
                s.Sink.Add(s.Location, s.Path, $"consumer '{e.Consumer}' has the same key as another consumer");
            }
        }

        return new ApiKeySchemeConfig { Header = header, Query = query, Keys = entries, KeysFile = keysFile };
    }

    /// <summary>Lines <c>consumer sha256-hex</c>; blank lines and <c>#</c> comments are skipped.</summary>
    private static void ReadApiKeyFile(YamlSection s, string path, List<ApiKeyEntry> entries)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            s.Error("keysFile", $"cannot read '{path}': {ex.Message}");
            return;
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || parts[1].Length != 64 || !IsHex(parts[1]))
            {
                s.Sink.Add(new ConfigLocation(path, i + 1, 1), s.FieldPath("keysFile"), "expected 'consumer sha256-hex' (64 hex digits, e.g. from: printf %s \"$KEY\" | sha256sum)");
                continue;
            }

            entries.Add(new ApiKeyEntry(parts[0], Convert.FromHexString(parts[1])));
        }
    }

    private static bool IsHex(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static IReadOnlyList<RouteConfig> ReadRouteAuth(YamlSection top, GatewayConfig config, List<AuthSchemeConfig> schemes)
    {
        var routes = config.Routes;
        var authById = new Dictionary<string, RouteAuthConfig>(StringComparer.Ordinal);
        if (top.Raw("routes") is YamlMappingNode routeMap)
        {
            var names = schemes.Select(x => x.Name).ToArray();
            foreach (var (keyNode, value) in routeMap.Children)
            {
                if (keyNode is not YamlScalarNode { Value: { } id } || value is not YamlMappingNode map
                    || !map.Children.TryGetValue(new YamlScalarNode("auth"), out var node))
                {
                    continue;
                }

                var path = $"routes.{id}.auth";
                if (node is not YamlMappingNode authMap)
                {
                    top.Sink.Add(node, path, "must be a mapping with schemes (and optionally require, forwardClaims, keepAuthorization)");
                    continue;
                }

                authById[id] = ReadOneRouteAuth(new YamlSection(top.Sink, authMap, path, RouteAuthKeys), names);
            }
        }

        // A rate-limit policy keyed by a claim needs the route to authenticate.
        foreach (var route in routes)
        {
            foreach (var policyName in route.RateLimits)
            {
                var policy = config.RateLimits.FirstOrDefault(p => p.Name == policyName);
                if (policy?.Key.Source == RateLimitKeySource.Claim && !authById.ContainsKey(route.Id))
                {
                    top.Sink.Add(route.Location, $"routes.{route.Id}.rateLimit",
                        $"policy '{policyName}' is keyed by claim '{policy.Key.Name}', which needs an auth block on the route (auth: {{ schemes: [...] }})");
                }
            }
        }

        return authById.Count == 0 ? routes : routes.Select(r => authById.TryGetValue(r.Id, out var a) ? r with { Auth = a } : r).ToArray();
    }

    private static RouteAuthConfig ReadOneRouteAuth(YamlSection s, string[] schemeNames)
    {
        s.Require("schemes");
        var schemes = s.StringList("schemes");
        if (s.Has("schemes") && schemes.Count == 0)
        {
            s.Error("schemes", "must name at least one scheme of authSchemes");
        }

        foreach (var name in schemes)
        {
            if (Array.IndexOf(schemeNames, name) < 0)
            {
                var suggestion = Suggestions.Closest(name, schemeNames);
                s.Error("schemes", $"scheme '{name}' is not defined in authSchemes" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
            }
        }

        if (schemes.Distinct(StringComparer.Ordinal).Count() != schemes.Count)
        {
            s.Error("schemes", "a scheme is listed twice");
        }

        var require = new AuthRequirementsConfig();
        if (s.Child("require", RequireKeys) is { } r)
        {
            require = new AuthRequirementsConfig
            {
                Scopes = ReadValueSet(r.Child("scopes", ValueSetKeys)),
                Roles = ReadValueSet(r.Child("roles", ValueSetKeys)),
                Claims = ReadClaimRequirements(r),
            };
        }

        var forward = new List<ForwardClaimConfig>();
        foreach (var (header, keyNode, value) in s.Entries("forwardClaims"))
        {
            var field = s.FieldPath("forwardClaims") + "." + header;
            if (!IsHeaderToken(header))
            {
                s.Sink.Add(keyNode, field, $"'{header}' is not a valid header name");
            }
            else if (Array.IndexOf(ReservedForwardHeaders, header.ToLowerInvariant()) >= 0)
            {
                s.Sink.Add(keyNode, field, $"header '{header}' cannot be set from a claim");
            }
            else if (forward.Any(f => string.Equals(f.Header, header, StringComparison.OrdinalIgnoreCase)))
            {
                s.Sink.Add(keyNode, field, $"header '{header}' is listed twice");
            }

            if (value is not YamlScalarNode { Value: { Length: > 0 } claim })
            {
                s.Sink.Add(value, field, "must be a claim type (e.g. sub)");
                continue;
            }

            forward.Add(new ForwardClaimConfig(header, claim));
        }

        return new RouteAuthConfig
        {
            Schemes = schemes,
            Require = require,
            ForwardClaims = forward,
            KeepAuthorization = s.Bool("keepAuthorization", false),
        };
    }

    private static ValueSetRequirement? ReadValueSet(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var any = s.StringList("any");
        var all = s.StringList("all");
        if (any.Count == 0 && all.Count == 0)
        {
            s.Sink.Add(s.Location, s.Path, "give any: [...] and/or all: [...]");
        }

        return new ValueSetRequirement { Any = any, All = all };
    }

    private static IReadOnlyList<ClaimRequirementConfig> ReadClaimRequirements(YamlSection r)
    {
        var list = new List<ClaimRequirementConfig>();
        foreach (var (claim, _, map, path) in r.MappingEntries("claims", "one of exact, prefix or regex"))
        {
            var m = new YamlSection(r.Sink, map, path, ClaimMatchKeys);
            var given = ClaimMatchKeys.Where(m.Has).ToArray();
            if (given.Length != 1)
            {
                m.Sink.Add(m.Location, path, "give exactly one of exact, prefix or regex");
                continue;
            }

            var mode = given[0] switch { "exact" => ClaimMatchMode.Exact, "prefix" => ClaimMatchMode.Prefix, _ => ClaimMatchMode.Regex };
            var value = m.String(given[0]) ?? string.Empty;
            if (mode == ClaimMatchMode.Regex)
            {
                try
                {
                    _ = new Regex(value, Identity.Authorization.ClaimMatcher.RegexOptionsUsed);
                }
                catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
                {
                    m.Error("regex", $"is not a valid regular expression (matched without backtracking): {ex.Message}");
                    continue;
                }
            }

            list.Add(new ClaimRequirementConfig(claim, mode, value));
        }

        return list;
    }

    private static bool IsHeaderToken(string name)
    {
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
            {
                return false;
            }
        }

        return name.Length > 0;
    }

    private static string Fingerprint(JwtSchemeConfig j) => string.Join('\u001f',
        j.Issuer, string.Join(',', j.Audiences), string.Join(',', j.Algorithms), j.JwksUrl, j.Discovery, j.KeysFile,
        j.Secret is null ? null : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(j.Secret))),
        j.KeysFile is not null && File.Exists(j.KeysFile) ? File.GetLastWriteTimeUtc(j.KeysFile).Ticks.ToString(CultureInfo.InvariantCulture) : null,
        j.RefreshInterval, j.MinRefreshInterval, j.FetchTimeout, j.ClockSkew, string.Join(',', j.RequiredClaims), j.RequireExpiration,
        string.Join(',', j.ValidTypes), j.MaxTokenLength, j.TokenCacheMaxEntries, j.TokenCacheTtl, j.Realm);

    private static string Fingerprint(ApiKeySchemeConfig a) => string.Join('\u001f',
        a.Header, a.Query, string.Join(',', a.Keys.Select(k => k.Consumer + ":" + Convert.ToHexString(k.Sha256))));
}
