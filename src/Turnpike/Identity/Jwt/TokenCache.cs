using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Security.Cryptography;

namespace Turnpike.Identity.Jwt;

/// <summary>
/// Recently validated tokens → their principal, so a busy client's signature is verified once, not per request.
/// Keyed by a seeded 128-bit XxHash of the token; a hit is accepted only when the stored token is the same string
/// (a hash collision can never authenticate another token), it has not expired (entries never outlive the token's
/// exp, nor <c>ttl</c>), and the key that verified it is still in the scheme's current key set (a key removed by
/// rotation invalidates its tokens at once). Bounded: past <c>maxEntries</c>, expired entries are swept, and if that
/// frees nothing the cache starts over empty. Lookups are lock-free and allocate nothing.
/// </summary>
internal sealed class TokenCache(int maxEntries, TimeSpan ttl, TimeProvider time)
{
    private readonly ConcurrentDictionary<UInt128, Entry> _entries = new();
    private readonly ulong _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    private int _count;
    private int _sweeping;
    private long _hits;
    private long _misses;

    public int Count => Volatile.Read(ref _count);

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public bool TryGet(ReadOnlySpan<char> token, SigningKeySet keys, out ClaimsPrincipal? principal)
    {
        var hash = Hash(token);
        if (_entries.TryGetValue(hash, out var entry) && token.SequenceEqual(entry.Token))
        {
            if (time.GetUtcNow().UtcTicks < entry.ExpiresTicks && (ReferenceEquals(entry.Keys, keys) || StillValid(entry, keys)))
            {
                Interlocked.Increment(ref _hits);
                principal = entry.Principal;
                return true;
            }

            Remove(hash, entry);
        }

        Interlocked.Increment(ref _misses);
        principal = null;
        return false;
    }

    /// <summary>Remembers a validated token until <paramref name="tokenExpires"/> (null: no exp) or the TTL, whichever is first.</summary>
    public void Add(string token, ClaimsPrincipal principal, DateTimeOffset? tokenExpires, SigningKeySet keys, string? kid)
    {
        var now = time.GetUtcNow();
        var expires = now + ttl;
        if (tokenExpires is { } exp && exp < expires)
        {
            expires = exp;
        }

        if (expires <= now)
        {
            return;
        }

        if (Interlocked.Increment(ref _count) > maxEntries)
        {
            MakeRoom(now.UtcTicks);
        }

        var entry = new Entry(token, principal, expires.UtcTicks, keys, kid);
        var hash = Hash(token);
        var added = false;
        _entries.AddOrUpdate(hash, _ => { added = true; return entry; }, (_, _) => entry);
        if (!added)
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private UInt128 Hash(ReadOnlySpan<char> token) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(token), (long)_seed);

    /// <summary>The key set changed since the token was cached: still good while its key (by kid) is in the new set.</summary>
    private static bool StillValid(Entry entry, SigningKeySet keys)
    {
        if (entry.Kid is null || !keys.Contains(entry.Kid))
        {
            return false;
        }

        entry.Keys = keys;
        return true;
    }

    private void Remove(UInt128 hash, Entry entry)
    {
        if (_entries.TryRemove(KeyValuePair.Create(hash, entry)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private void MakeRoom(long nowTicks)
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            var removed = 0;
            foreach (var (hash, entry) in _entries)
            {
                if (entry.ExpiresTicks <= nowTicks && _entries.TryRemove(KeyValuePair.Create(hash, entry)))
                {
                    removed++;
                    Interlocked.Decrement(ref _count);
                }
            }

            if (removed == 0)
            {
                _entries.Clear();
                Volatile.Write(ref _count, 1);
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private sealed class Entry(string token, ClaimsPrincipal principal, long expiresTicks, SigningKeySet keys, string? kid)
    {
        public string Token { get; } = token;

        public ClaimsPrincipal Principal { get; } = principal;

        public long ExpiresTicks { get; } = expiresTicks;

        public SigningKeySet Keys { get; set; } = keys;

        public string? Kid { get; } = kid;
    }
}
