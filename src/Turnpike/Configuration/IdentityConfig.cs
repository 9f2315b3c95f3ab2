using System.Text.Json.Serialization;

namespace Turnpike.Configuration;

/// <summary>What kind of credentials a scheme under <c>authSchemes</c> checks.</summary>
public enum AuthSchemeKind
{
    /// <summary>A JWT bearer token in the Authorization header.</summary>
    Jwt,
    /// <summary>An API key in a header or query parameter.</summary>
    ApiKey,
}

/// <summary>One named authentication scheme (an entry of <c>authSchemes</c>).</summary>
public sealed record AuthSchemeConfig
{
    public required string Name { get; init; }
    public AuthSchemeKind Type { get; init; }
    /// <summary>Settings of a <c>type: jwt</c> scheme; null otherwise.</summary>
    public JwtSchemeConfig? Jwt { get; init; }
    /// <summary>Settings of a <c>type: apiKey</c> scheme; null otherwise.</summary>
    public ApiKeySchemeConfig? ApiKey { get; init; }
    /// <summary>Canonical text of every setting: a reload keeps the running scheme (key cache, token cache) when it is unchanged.</summary>
    [JsonIgnore]
    public string Fingerprint { get; init; } = string.Empty;
    [JsonIgnore]
    public ConfigLocation Location { get; init; }
}

/// <summary>A JWT bearer scheme. Exactly one key source: <see cref="JwksUrl"/>, <see cref="Discovery"/>, <see cref="KeysFile"/> or <see cref="Secret"/>.</summary>
public sealed record JwtSchemeConfig
{
    /// <summary>Algorithms accepted when <c>algorithms</c> is not given: the asymmetric ones the library verifies.</summary>
    public static readonly IReadOnlyList<string> DefaultAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];
    /// <summary>Every algorithm a scheme may list.</summary>
    public static readonly IReadOnlyList<string> SupportedAlgorithms = [.. DefaultAlgorithms, "HS256", "HS384", "HS512"];

    /// <summary>Required <c>iss</c>; null: any issuer (only allowed with a keys file or secret).</summary>
    public string? Issuer { get; init; }
    /// <summary>Accepted <c>aud</c> values; empty: the audience is not checked.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];
    /// <summary>Accepted <c>alg</c> header values, decided by configuration, never by the token.</summary>
    public IReadOnlyList<string> Algorithms { get; init; } = DefaultAlgorithms;
    public string? JwksUrl { get; init; }
    /// <summary>OIDC discovery document URL; its <c>jwks_uri</c> is fetched.</summary>
    public string? Discovery { get; init; }
    /// <summary>A PEM public key or a JWKS file (absolute path, resolved against the config file's folder).</summary>
    public string? KeysFile { get; init; }
    /// <summary>HMAC shared secret (HS256/384/512 only). Redacted in /admin/config.</summary>
    [JsonIgnore]
    public string? Secret { get; init; }
    /// <summary>How long a fetched key set is used before it is fetched again.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Least time between two fetches caused by tokens with an unknown <c>kid</c> (and between retries after a failed fetch).</summary>
    public TimeSpan MinRefreshInterval { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Time allowed for one JWKS or discovery fetch.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Claims every token must carry.</summary>
    public IReadOnlyList<string> RequiredClaims { get; init; } = [];
    public bool RequireExpiration { get; init; } = true;
    /// <summary>Accepted <c>typ</c> header values; empty: any (or none).</summary>
    public IReadOnlyList<string> ValidTypes { get; init; } = [];
    /// <summary>Longest accepted token in characters; longer ones are rejected before any parsing.</summary>
    public int MaxTokenLength { get; init; } = 16 * 1024;
    /// <summary>Validated tokens remembered (0: no cache).</summary>
    public int TokenCacheMaxEntries { get; init; } = 10_000;
    /// <summary>Longest time a validated token is remembered (never past its exp).</summary>
    public TimeSpan TokenCacheTtl { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>The realm of the <c>WWW-Authenticate: Bearer</c> challenge.</summary>
    public string Realm { get; init; } = "turnpike";
}

/// <summary>An API key scheme: the key arrives in <see cref="Header"/> or the query parameter <see cref="Query"/>.</summary>
public sealed record ApiKeySchemeConfig
{
    public string? Header { get; init; }
    public string? Query { get; init; }
    /// <summary>Consumer name and SHA-256 of its key, from <c>keys</c> and <c>keysFile</c>. Never shown in /admin/config.</summary>
    [JsonIgnore]
    public IReadOnlyList<ApiKeyEntry> Keys { get; init; } = [];
    public string? KeysFile { get; init; }
    /// <summary>Number of keys loaded (shown in /admin/config instead of the keys).</summary>
    public int KeyCount => Keys.Count;
}

/// <summary>One API key: the consumer it identifies and the SHA-256 of the key's UTF-8 bytes.</summary>
public sealed record ApiKeyEntry(string Consumer, byte[] Sha256);

/// <summary>A route's <c>auth</c> block.</summary>
public sealed record RouteAuthConfig
{
    /// <summary>Schemes tried in order; the first that finds its credentials on the request decides.</summary>
    public IReadOnlyList<string> Schemes { get; init; } = [];
    public AuthRequirementsConfig Require { get; init; } = new();
    /// <summary>Upstream header ← claim type, set from the principal after client copies are removed.</summary>
    public IReadOnlyList<ForwardClaimConfig> ForwardClaims { get; init; } = [];
    /// <summary>Forward the client's Authorization header upstream (default: stripped).</summary>
    public bool KeepAuthorization { get; init; }
}

/// <summary>Authorization rules ("entitlements"); every group given must hold.</summary>
public sealed record AuthRequirementsConfig
{
    public ValueSetRequirement? Scopes { get; init; }
    public ValueSetRequirement? Roles { get; init; }
    public IReadOnlyList<ClaimRequirementConfig> Claims { get; init; } = [];
}

/// <summary><c>any</c>: at least one listed value present; <c>all</c>: every listed value present. Both may be given.</summary>
public sealed record ValueSetRequirement
{
    public IReadOnlyList<string> Any { get; init; } = [];
    public IReadOnlyList<string> All { get; init; } = [];
}

public enum ClaimMatchMode
{
    Exact,
    Prefix,
    Regex,
}

/// <summary>Some value of claim <see cref="Claim"/> must match <see cref="Value"/> as <see cref="Mode"/> says.</summary>
public sealed record ClaimRequirementConfig(string Claim, ClaimMatchMode Mode, string Value);

public sealed record ForwardClaimConfig(string Header, string Claim);
