using System.IO.Hashing;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., NSDI 2016). At build time every destination gets a permutation of
/// the table slots from two hashes of its id (offset, skip); destinations take turns claiming their next free
/// preferred slot until the table is full. Each request's key (client IP, header, cookie or query value) is hashed
/// with XxHash3 and looked up in the table. Removing one of N destinations moves about 1/N of the keys; the table
/// spreads keys evenly (weights are not used). A request without the key falls back to round robin. On a retry the
/// next different destination in the table after the key's slot is taken, so retries are deterministic too.
/// </summary>
internal sealed class ConsistentHashPolicy : ILoadBalancingPolicy
{
    /// <summary>Table size for up to 655 destinations (a prime ≥ 100 × N, as the paper recommends).</summary>
    internal const int DefaultTableSize = 65537;

    private const int MaxStackKeyBytes = 512;

    private readonly DestinationModel[] _destinations;
    private readonly int[] _table;
    private readonly HashKeySource _source;
    private readonly string _name;
    private uint _fallbackCounter = uint.MaxValue;

    public ConsistentHashPolicy(DestinationModel[] destinations, HashKeyConfig key)
    {
        _destinations = destinations;
        _source = key.Source;
        _name = key.Name ?? string.Empty;
        _table = BuildTable(destinations);
    }

    public string Name => "consistent_hash";

    internal int TableSize => _table.Length;

    public DestinationModel? Pick(HttpContext context, DestinationModel[] destinations, DestinationModel? exclude)
    {
        if (destinations.Length == 0)
        {
            return null;
        }

        if (!ReferenceEquals(destinations, _destinations) || !TryHashKey(context, out var hash))
        {
            return RoundRobin.Next(ref _fallbackCounter, destinations, exclude);
        }

        return Lookup(hash, exclude);
    }

    /// <summary>The destination for a key hash, skipping <paramref name="exclude"/> deterministically.</summary>
    internal DestinationModel Lookup(ulong hash, DestinationModel? exclude)
    {
        var table = _table;
        var destinations = _destinations;
        var slot = (int)(hash % (ulong)table.Length);
        var candidate = destinations[table[slot]];
        if (exclude is null || !ReferenceEquals(candidate, exclude) || destinations.Length == 1)
        {
            return candidate;
        }

        for (var step = 1; step < table.Length; step++)
        {
            var index = slot + step;
            if (index >= table.Length)
            {
                index -= table.Length;
            }

            var next = destinations[table[index]];
            if (!ReferenceEquals(next, exclude))
            {
                return next;
            }
        }

        return candidate;
    }

    /// <summary>Hashes a key given as text, the way request keys are hashed (its UTF-16 code units).</summary>
    internal static ulong HashKey(ReadOnlySpan<char> key) => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(key));

    private bool TryHashKey(HttpContext context, out ulong hash)
    {
        switch (_source)
        {
            case HashKeySource.ClientIp:
                var ip = context.Connection.RemoteIpAddress;
                Span<byte> bytes = stackalloc byte[16];
                if (ip is not null)
                {
                    if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.IsIPv4MappedToIPv6)
                    {
                        ip = ip.MapToIPv4();
                    }

                    if (ip.TryWriteBytes(bytes, out var written))
                    {
                        hash = XxHash3.HashToUInt64(bytes[..written]);
                        return true;
                    }
                }

                break;
            case HashKeySource.Header:
                // With several values the first one is the key.
                var header = context.Request.Headers[_name];
                if (header.Count > 0 && !string.IsNullOrEmpty(header[0]))
                {
                    hash = HashKey(header[0]);
                    return true;
                }

                break;
            case HashKeySource.Cookie:
                var cookie = context.Request.Cookies[_name];
                if (!string.IsNullOrEmpty(cookie))
                {
                    hash = HashKey(cookie);
                    return true;
                }

                break;
            case HashKeySource.Query:
                var query = context.Request.Query[_name];
                if (query.Count > 0 && !string.IsNullOrEmpty(query[0]))
                {
                    hash = HashKey(query[0]);
                    return true;
                }

                break;
        }

        hash = 0;
        return false;
    }

    internal static int TableSizeFor(int destinations)
    {
        var size = Math.Max(DefaultTableSize, destinations * 100);
        while (!IsPrime(size))
        {
            size++;
        }

        return size;
    }

    private static int[] BuildTable(DestinationModel[] destinations)
    {
        var n = destinations.Length;
        if (n == 0)
        {
            return [];
        }

        var m = TableSizeFor(n);
        var offsets = new long[n];
        var skips = new long[n];
        Span<byte> stack = stackalloc byte[MaxStackKeyBytes];
        for (var i = 0; i < n; i++)
        {
            var id = destinations[i].Id;
            var length = Encoding.UTF8.GetByteCount(id);
            var buffer = length <= MaxStackKeyBytes ? stack[..length] : new byte[length];
            Encoding.UTF8.GetBytes(id, buffer);
            offsets[i] = (long)(XxHash3.HashToUInt64(buffer, seed: 0x6d61676c6576) % (ulong)m);
            skips[i] = (long)(XxHash3.HashToUInt64(buffer, seed: 0x736b6970) % (ulong)(m - 1)) + 1;
        }

        var table = new int[m];
        Array.Fill(table, -1);
        var next = new long[n];
        var filled = 0;
        while (true)
        {
            for (var i = 0; i < n; i++)
            {
                int slot;
                do
                {
                    slot = (int)((offsets[i] + (next[i] * skips[i])) % m);
                    next[i]++;
                }
                while (table[slot] >= 0);

                table[slot] = i;
                if (++filled == m)
                {
                    return table;
                }
            }
        }
    }

    private static bool IsPrime(int value)
    {
        if (value < 2)
        {
            return false;
        }

        for (var d = 2; (long)d * d <= value; d++)
        {
            if (value % d == 0)
            {
                return false;
            }
        }

        return true;
    }
}
