using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Turnpike.Identity.Jwt;

/// <summary>The family of algorithms a key may verify: the token's <c>alg</c> must belong to its key's family (no HS/RS confusion).</summary>
internal enum KeyFamily
{
    Rsa,
    EllipticCurve,
    Symmetric,
}

/// <summary>One verification key: the key, its family, its curve (EC) and the one algorithm it is pinned to, if the JWK says so.</summary>
internal sealed class SigningKey(SecurityKey key, KeyFamily family, string? curve, string? algorithm)
{
    public SecurityKey Key { get; } = key;

    public KeyFamily Family { get; } = family;

    public string? Curve { get; } = curve;

    public string? Algorithm { get; } = algorithm;

    /// <summary>The key as the library's key resolver returns it (allocated once).</summary>
    public SecurityKey[] AsArray { get; } = [key];

    /// <summary>True when a token signed with <paramref name="alg"/> may be checked with this key (RFC 8725 §3.1).</summary>
    public bool Accepts(string alg)
    {
        if (Algorithm is not null && !string.Equals(Algorithm, alg, StringComparison.Ordinal))
        {
            return false;
        }

        return Family switch
        {
            KeyFamily.Rsa => alg is "RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512",
            KeyFamily.Symmetric => alg is "HS256" or "HS384" or "HS512",
            _ => (alg, Curve) is ("ES256", "P-256") or ("ES384", "P-384") or ("ES512", "P-521"),
        };
    }
}

/// <summary>
/// An immutable set of verification keys, by <c>kid</c> and without one. A key source swaps in a whole new set
/// atomically; a request reads the set once.
/// </summary>
internal sealed class SigningKeySet
{
    public static readonly SigningKeySet Empty = new([], []);

    private readonly FrozenDictionary<string, SigningKey> _byKid;
    private readonly SigningKey[] _unkeyed;

    public SigningKeySet(IEnumerable<KeyValuePair<string, SigningKey>> byKid, SigningKey[] unkeyed)
    {
        _byKid = byKid.ToFrozenDictionary(StringComparer.Ordinal);
        _unkeyed = unkeyed;
    }

    public int Count => _byKid.Count + _unkeyed.Length;

    public IEnumerable<string> KeyIds => _byKid.Keys;

    public bool Contains(string kid) => _byKid.ContainsKey(kid);

    /// <summary>
    /// The key for a token with <paramref name="kid"/> (null when it has none). A token with a kid is checked with that
    /// key only, or with a key that has no kid (a PEM file, a shared secret). Null when no key matches.
    /// </summary>
    public SigningKey? Find(string? kid, string alg)
    {
        if (kid is not null && _byKid.TryGetValue(kid, out var key))
        {
            return key;
        }

        foreach (var k in _unkeyed)
        {
            if (k.Accepts(alg))
            {
                return k;
            }
        }

        // A token without kid against a key set where every key has one: the single key that fits, if only one does.
        if (kid is null && _byKid.Count > 0)
        {
            SigningKey? only = null;
            foreach (var (_, k) in _byKid)
            {
                if (k.Accepts(alg))
                {
                    if (only is not null)
                    {
                        return null;
                    }

                    only = k;
                }
            }

            return only;
        }

        return null;
    }

    /// <summary>Signing keys of a JWKS document: RSA and EC keys not marked <c>use: enc</c>. Symmetric (<c>oct</c>) keys are
    /// never taken from a JWKS: shared secrets come from the <c>secret</c> setting only. Null with an error when unreadable.</summary>
    public static SigningKeySet? FromJwks(string json, out string? error)
    {
        JsonWebKeySet jwks;
        try
        {
            jwks = new JsonWebKeySet(json);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or System.Text.Json.JsonException or InvalidOperationException)
        {
            error = "not a JSON Web Key Set: " + ex.Message.Split('\n')[0];
            return null;
        }

        var byKid = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
        var unkeyed = new List<SigningKey>();
        foreach (var jwk in jwks.Keys)
        {
            if (string.Equals(jwk.Use, "enc", StringComparison.Ordinal))
            {
                continue;
            }

            SigningKey? key = jwk.Kty switch
            {
                "RSA" when !string.IsNullOrEmpty(jwk.N) && !string.IsNullOrEmpty(jwk.E) => new SigningKey(jwk, KeyFamily.Rsa, null, NullIfEmpty(jwk.Alg)),
                "EC" when jwk.Crv is "P-256" or "P-384" or "P-521" && !string.IsNullOrEmpty(jwk.X) && !string.IsNullOrEmpty(jwk.Y) =>
                    new SigningKey(jwk, KeyFamily.EllipticCurve, jwk.Crv, NullIfEmpty(jwk.Alg)),
                _ => null,
            };
            if (key is null)
            {
                continue;
            }

            if (string.IsNullOrEmpty(jwk.Kid))
            {
                unkeyed.Add(key);
            }
            else
            {
                byKid.TryAdd(jwk.Kid, key);
            }
        }

        error = null;
        return new SigningKeySet(byKid, [.. unkeyed]);
    }

    /// <summary>A PEM public key (RSA or EC, SPKI or PKCS#1) or a JWKS file. Null with an error when unreadable.</summary>
    public static SigningKeySet? FromFile(string path, out string? error)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read '{path}': {ex.Message}";
            return null;
        }

        if (text.TrimStart().StartsWith('{'))
        {
            var set = FromJwks(text, out error);
            if (set is { Count: 0 })
            {
                error = "the JWKS holds no RSA or EC signing key";
                return null;
            }

            return set;
        }

        if (!text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            error = "is neither a PEM public key nor a JWKS (JSON) document";
            return null;
        }

        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            error = "holds a private key; give the gateway the public key only";
            return null;
        }

        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(text);
            error = null;
            return new SigningKeySet([], [new SigningKey(new RsaSecurityKey(rsa), KeyFamily.Rsa, null, null)]);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            // Not RSA: try EC below.
        }

        try
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(text);
            var curve = ec.KeySize switch { 256 => "P-256", 384 => "P-384", 521 => "P-521", _ => null };
            if (curve is null)
            {
                error = $"EC key of {ec.KeySize} bits: only P-256, P-384 and P-521 are supported";
                return null;
            }

            error = null;
            return new SigningKeySet([], [new SigningKey(new ECDsaSecurityKey(ec), KeyFamily.EllipticCurve, curve, null)]);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            error = "no RSA or EC public key could be read from the PEM: " + ex.Message;
            return null;
        }
    }

    /// <summary>A shared HMAC secret (no kid: it verifies any HS token of the scheme's allowed algorithms).</summary>
    public static SigningKeySet FromSecret(byte[] secret) =>
        new([], [new SigningKey(new SymmetricSecurityKey(secret), KeyFamily.Symmetric, null, null)]);

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
