namespace Turnpike.Configuration;

/// <summary>
/// A named CORS policy (<c>corsPolicies.NAME</c>), attached to routes with <c>cors: NAME</c>. Values are normalized by
/// <see cref="YamlConfigReader"/>: origins in canonical form, methods upper case, header names lower case.
/// </summary>
public sealed record CorsPolicyConfig
{
    public static readonly IReadOnlyList<string> DefaultMethods = ["GET", "HEAD", "POST"];

    public required string Name { get; init; }
    /// <summary>Allowed origins: exact (<c>https://app.example.com</c>), wildcard subdomains (<c>https://*.example.com</c>)
    /// or <c>*</c> for any origin (not with <see cref="Credentials"/>).</summary>
    public IReadOnlyList<string> Origins { get; init; } = [];
    /// <summary>Methods a preflight may ask for; <c>*</c> allows any. Default GET, HEAD, POST.</summary>
    public IReadOnlyList<string> Methods { get; init; } = DefaultMethods;
    /// <summary>Request headers a preflight may ask for (<c>Access-Control-Allow-Headers</c>); <c>*</c> allows any.</summary>
    public IReadOnlyList<string> Headers { get; init; } = [];
    /// <summary>Response headers scripts may read (<c>Access-Control-Expose-Headers</c>).</summary>
    public IReadOnlyList<string> ExposeHeaders { get; init; } = [];
    /// <summary>Send <c>Access-Control-Allow-Credentials: true</c>: cookies and HTTP authentication may be used.</summary>
    public bool Credentials { get; init; }
    /// <summary>How long a browser may cache a preflight answer (<c>Access-Control-Max-Age</c>); null: not sent.</summary>
    public TimeSpan? MaxAge { get; init; }
    [System.Text.Json.Serialization.JsonIgnore]
    public ConfigLocation Location { get; init; }
}
