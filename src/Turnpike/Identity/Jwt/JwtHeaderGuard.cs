using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace Turnpike.Identity.Jwt;

/// <summary>What the JOSE header of a token says, read before any signature work.</summary>
internal readonly record struct JwtHeader(string Alg, string? Kid);

/// <summary>
/// Rejects obviously hostile tokens before the library is asked to verify anything (RFC 8725): an <c>alg</c> the
/// scheme does not allow (so <c>none</c> in any spelling), headers that point at keys elsewhere or embed one
/// (<c>jku</c>, <c>x5u</c>, <c>jwk</c>, <c>x5c</c>), <c>crit</c> extensions, encrypted tokens (five parts), and
/// <c>kid</c> values that are long or contain anything but [A-Za-z0-9-_.:=+] (no paths, no "..", no quotes).
/// </summary>
internal static class JwtHeaderGuard
{
    public const int MaxKidLength = 256;
    private const int MaxHeaderChars = 4096;

    public static string? Check(string token, string[] allowedAlgorithms, out JwtHeader header)
    {
        header = default;
        var first = token.IndexOf('.');
        if (first <= 0)
        {
            return AuthReasons.Malformed;
        }

        var second = token.IndexOf('.', first + 1);
        if (second < 0)
        {
            return AuthReasons.Malformed;
        }

        if (token.IndexOf('.', second + 1) >= 0)
        {
            return AuthReasons.Encrypted; // JWE compact form has five parts
        }

        if (first > MaxHeaderChars)
        {
            return AuthReasons.HostileHeader;
        }

        Span<byte> encoded = stackalloc byte[first];
        for (var i = 0; i < first; i++)
        {
            var c = token[i];
            if (c > 127)
            {
                return AuthReasons.Malformed;
            }

            encoded[i] = (byte)c;
        }

        var decoded = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(first));
        try
        {
            if (Base64Url.DecodeFromUtf8(encoded, decoded, out _, out var written) != OperationStatus.Done)
            {
                return AuthReasons.Malformed;
            }

            return Read(decoded.AsSpan(0, written), allowedAlgorithms, out header);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }

    private static string? Read(ReadOnlySpan<byte> json, string[] allowedAlgorithms, out JwtHeader header)
    {
        header = default;
        string? alg = null;
        string? kid = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return AuthReasons.Malformed;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("jku"u8) || reader.ValueTextEquals("x5u"u8) || reader.ValueTextEquals("jwk"u8)
                    || reader.ValueTextEquals("x5c"u8) || reader.ValueTextEquals("crit"u8) || reader.ValueTextEquals("enc"u8))
                {
                    return AuthReasons.HostileHeader;
                }

                var isAlg = reader.ValueTextEquals("alg"u8);
                var isKid = reader.ValueTextEquals("kid"u8);
                if (!reader.Read())
                {
                    return AuthReasons.Malformed;
                }

                if (isAlg || isKid)
                {
                    if (reader.TokenType != JsonTokenType.String || (isAlg ? alg : kid) is not null)
                    {
                        return isKid ? AuthReasons.BadKid : AuthReasons.DisallowedAlgorithm; // not a string, or given twice
                    }

                    if (isAlg)
                    {
                        alg = reader.GetString();
                    }
                    else
                    {
                        kid = reader.GetString();
                    }
                }
                else
                {
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return AuthReasons.Malformed;
            }
        }
        catch (JsonException)
        {
            return AuthReasons.Malformed;
        }

        if (alg is null || Array.IndexOf(allowedAlgorithms, alg) < 0)
        {
            return AuthReasons.DisallowedAlgorithm;
        }

        if (kid is not null && !IsSafeKid(kid))
        {
            return AuthReasons.BadKid;
        }

        header = new JwtHeader(alg, kid);
        return null;
    }

    internal static bool IsSafeKid(string kid)
    {
        if (kid.Length is 0 or > MaxKidLength || kid.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in kid)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '=' or '+'))
            {
                return false;
            }
        }

        return true;
    }
}
