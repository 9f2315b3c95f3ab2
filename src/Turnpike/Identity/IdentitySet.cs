using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;
using Turnpike.Identity.ApiKeys;
using Turnpike.Identity.Jwt;

namespace Turnpike.Identity;

/// <summary>One configured scheme at run time, with its counters and the settings it was built from.</summary>
internal sealed record AuthSchemeEntry(AuthSchemeConfig Config, IAuthScheme Scheme, AuthCounters Counters);

/// <summary>
/// The <c>authSchemes</c> of one snapshot. A reload keeps a scheme whose settings are unchanged (its fetched keys and
/// token cache survive) and always keeps each scheme name's counters.
/// </summary>
internal sealed class IdentitySet
{
    public static readonly IdentitySet Empty = new(FrozenDictionary<string, AuthSchemeEntry>.Empty);

    private IdentitySet(FrozenDictionary<string, AuthSchemeEntry> schemes) => Schemes = schemes;

    public FrozenDictionary<string, AuthSchemeEntry> Schemes { get; }

    public static IdentitySet Build(GatewayConfig config, IdentitySet? previous, TimeProvider time, ILogger logger)
    {
        if (config.AuthSchemes.Count == 0)
        {
            return Empty;
        }

        var schemes = new Dictionary<string, AuthSchemeEntry>(StringComparer.Ordinal);
        foreach (var c in config.AuthSchemes)
        {
            AuthSchemeEntry? old = null;
            previous?.Schemes.TryGetValue(c.Name, out old);
            if (old is not null && old.Config.Fingerprint == c.Fingerprint)
            {
                schemes[c.Name] = old with { Config = c };
                continue;
            }

            schemes[c.Name] = new AuthSchemeEntry(c, Create(c, time, logger), old?.Counters ?? new AuthCounters());
        }

        return new IdentitySet(schemes.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static IAuthScheme Create(AuthSchemeConfig c, TimeProvider time, ILogger logger)
    {
        if (c.Type == AuthSchemeKind.ApiKey)
        {
            return new ApiKeyAuthScheme(c.Name, c.ApiKey!);
        }

        var jwt = c.Jwt!;
        SigningKeySource keys = jwt switch
        {
            { Secret: { } secret } => new StaticKeySource(SigningKeySet.FromSecret(System.Text.Encoding.UTF8.GetBytes(secret))),
            { KeysFile: { } file } => new StaticKeySource(SigningKeySet.FromFile(file, out _) ?? SigningKeySet.Empty),
            _ => new JwksKeySource(c.Name, jwt, time, logger),
        };
        return new JwtAuthScheme(c.Name, jwt, keys, time);
    }

    /// <summary>Starts the background key refreshers (idempotent for schemes carried over).</summary>
    public void Start()
    {
        foreach (var entry in Schemes.Values)
        {
            if (entry.Scheme is JwtAuthScheme jwt)
            {
                jwt.Keys.Start();
            }
        }
    }

    /// <summary>Stops refreshers of schemes <paramref name="successor"/> did not carry over.</summary>
    public void DisposeExcept(IdentitySet? successor)
    {
        foreach (var (name, entry) in Schemes)
        {
            if (successor is not null && successor.Schemes.TryGetValue(name, out var next) && ReferenceEquals(next.Scheme, entry.Scheme))
            {
                continue;
            }

            (entry.Scheme as IDisposable)?.Dispose();
        }
    }
}
