using System.Buffers;
using System.Collections.Frozen;
using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Turnpike.Configuration;

namespace Turnpike.Identity.ApiKeys;

/// <summary>
/// An API key scheme. The presented key is hashed with SHA-256, looked up by the first 128 bits of the hash in a
/// frozen table, and the full 32-byte hash is compared with <see cref="CryptographicOperations.FixedTimeEquals"/>:
/// the time taken does not depend on how much of a stored key a guess shares (and only hashes are held in memory).
/// The consumer's name becomes the principal's <c>sub</c> (and <c>consumer</c>) claim, so a rate-limit policy keyed
/// by <c>claim: sub</c> partitions by consumer. Principals are built once at load; a request allocates nothing.
/// </summary>
internal sealed class ApiKeyAuthScheme : IAuthScheme
{
    private const int MaxKeyLength = 1024;

    private readonly string? _header;
    private readonly string? _query;
    private readonly FrozenDictionary<UInt128, Entry> _keys;

    public ApiKeyAuthScheme(string name, ApiKeySchemeConfig config)
    {
        Name = name;
        _header = config.Header;
        _query = config.Query;
        var principals = new Dictionary<string, ClaimsPrincipal>(StringComparer.Ordinal);
        var keys = new Dictionary<UInt128, Entry>();
        foreach (var k in config.Keys)
        {
            if (!principals.TryGetValue(k.Consumer, out var principal))
            {
                var identity = new ClaimsIdentity([new Claim("sub", k.Consumer), new Claim("consumer", k.Consumer), new Claim("auth_scheme", name)], "apiKey", "sub", "roles");
                principal = principals[k.Consumer] = new GatewayPrincipal(identity);
            }

            keys.TryAdd(MemoryMarshal.Read<UInt128>(k.Sha256), new Entry(k.Sha256, principal));
        }

        _keys = keys.ToFrozenDictionary();
        Challenge = _header is not null ? $"ApiKey realm=\"{name}\", header=\"{_header}\"" : $"ApiKey realm=\"{name}\", query=\"{_query}\"";
    }

    public string Name { get; }

    public string Challenge { get; }

    public int KeyCount => _keys.Count;

    public ValueTask<AuthResult> AuthenticateAsync(HttpContext context)
    {
        StringValues values = _header is not null ? context.Request.Headers[_header] : context.Request.Query[_query!];
        if (values.Count == 0)
        {
            return new(AuthResult.None);
        }

        if (values.Count > 1 || string.IsNullOrEmpty(values[0]))
        {
            return new(AuthResult.Fail(AuthReasons.Malformed));
        }

        var key = values[0]!;
        if (key.Length > MaxKeyLength)
        {
            return new(AuthResult.Fail(AuthReasons.TooLarge));
        }

        return new(Check(key));
    }

    private AuthResult Check(string key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var max = Encoding.UTF8.GetMaxByteCount(key.Length);
        byte[]? rented = null;
        var utf8 = max <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var length = Encoding.UTF8.GetBytes(key, utf8);
            SHA256.HashData(utf8[..length], hash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented, clearArray: true);
            }
        }

        if (_keys.TryGetValue(MemoryMarshal.Read<UInt128>(hash), out var entry) && CryptographicOperations.FixedTimeEquals(entry.Sha256, hash))
        {
            return AuthResult.Ok(entry.Principal);
        }

        return AuthResult.Fail(AuthReasons.UnknownApiKey);
    }

    private sealed record Entry(byte[] Sha256, ClaimsPrincipal Principal);
}
