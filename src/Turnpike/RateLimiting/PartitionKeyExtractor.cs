using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.RateLimiting;

/// <summary>
/// Takes a request's partition key for a policy: the client IP (X-Forwarded-For believed only from trusted proxies),
/// a header, an API key header, a route value or a claim of the authenticated user. The key is written into a caller's
/// buffer or points into a string the request already holds, so finding an existing partition allocates nothing.
/// A request without the value shares the empty-key partition; values longer than <see cref="MaxKeyLength"/> are
/// replaced by their 64-bit hash so a flood of huge keys cannot hold much memory.
/// </summary>
internal abstract class PartitionKeyExtractor
{
    /// <summary>Room for any IPv6 address with a scope, or a hashed long key.</summary>
    public const int BufferSize = 64;
    public const int MaxKeyLength = 256;

    public abstract ReadOnlySpan<char> Extract(HttpContext context, RouteModel route, Span<char> buffer);

    public static PartitionKeyExtractor Create(RateLimitPolicyConfig config) => config.Key.Source switch
    {
        RateLimitKeySource.ClientIp => new ClientIpKey(TrustedProxies.Create(config.TrustedProxies)),
        RateLimitKeySource.Header or RateLimitKeySource.ApiKey => new HeaderKey(config.Key.Name!),
        RateLimitKeySource.RouteValue => new RouteValueKey(config.Key.Name!),
        _ => new ClaimKey(config.Key.Name!),
    };

    protected static ReadOnlySpan<char> Bounded(ReadOnlySpan<char> value, Span<char> buffer)
    {
        if (value.Length <= MaxKeyLength)
        {
            return value;
        }

        var hash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(value));
        buffer[0] = '#';
        hash.TryFormat(buffer[1..], out var written, "x16", CultureInfo.InvariantCulture);
        return buffer[..(written + 1)];
    }

    private sealed class HeaderKey(string name) : PartitionKeyExtractor
    {
        public override ReadOnlySpan<char> Extract(HttpContext context, RouteModel route, Span<char> buffer)
        {
            var values = context.Request.Headers[name];
            // One header line is the common case and its string is returned as is; several are joined (allocates).
            return values.Count switch
            {
                0 => [],
                1 => Bounded(values[0].AsSpan().Trim(), buffer),
                _ => Bounded(values.ToString(), buffer),
            };
        }
    }

    private sealed class RouteValueKey(string name) : PartitionKeyExtractor
    {
        public override ReadOnlySpan<char> Extract(HttpContext context, RouteModel route, Span<char> buffer)
        {
            var request = context.Request;
            if (request.RouteValues.Count == 0 && route.Matcher.CapturesValues)
            {
                route.Matcher.CaptureValues(request);
            }

            return request.RouteValues.TryGetValue(name, out var value) && value is not null
                ? Bounded(value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture), buffer)
                : [];
        }
    }

    /// <summary>A claim of <see cref="HttpContext.User"/> when authenticated (identity arrives with issue #5).</summary>
    private sealed class ClaimKey(string type) : PartitionKeyExtractor
    {
        public override ReadOnlySpan<char> Extract(HttpContext context, RouteModel route, Span<char> buffer) =>
            context.User.Identity?.IsAuthenticated == true && context.User.FindFirst(type) is { } claim ? Bounded(claim.Value, buffer) : [];
    }

    private sealed class ClientIpKey(TrustedProxies trusted) : PartitionKeyExtractor
    {
        public override ReadOnlySpan<char> Extract(HttpContext context, RouteModel route, Span<char> buffer)
        {
            var peer = context.Connection.RemoteIpAddress;
            if (peer is null)
            {
                return [];
            }

            if (trusted.IsEmpty || !trusted.Contains(peer))
            {
                // The raw listener's connection keeps its address's text (an IPv4-mapped one is shown as IPv4 here).
                return !peer.IsIPv4MappedToIPv6 && context.Features is Http1.IRemoteAddressText { RemoteAddressText: { } text }
                    ? text
                    : Format(peer, buffer);
            }

            return trusted.ClientFromForwardedFor(context.Request.Headers["X-Forwarded-For"], peer, buffer);
        }
    }

    internal static ReadOnlySpan<char> Format(IPAddress address, Span<char> buffer)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.TryFormat(buffer, out var written) ? buffer[..written] : [];
    }
}

/// <summary>
/// Peers whose <c>X-Forwarded-For</c> is believed. The client is the right-most hop that is not itself a trusted
/// proxy (what nginx's <c>real_ip_recursive on</c> and Envoy's <c>xff_trusted_cidrs</c> do): hops to its left were
/// written by the client and can be forged.
/// </summary>
internal sealed class TrustedProxies
{
    private static readonly TrustedProxies None = new([]);
    private readonly IPNetwork[] _networks;

    private TrustedProxies(IPNetwork[] networks) => _networks = networks;

    public bool IsEmpty => _networks.Length == 0;

    public static TrustedProxies Create(IReadOnlyList<string> entries)
    {
        if (entries.Count == 0)
        {
            return None;
        }

        var list = new List<IPNetwork>(entries.Count);
        foreach (var entry in entries)
        {
            if (YamlConfigReader.TryParseNetwork(entry, out var network))
            {
                list.Add(network);
            }
        }

        return new TrustedProxies([.. list]);
    }

    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The right-most untrusted hop of the header (all lines, in order); the left-most hop when every hop is trusted; the peer without a header.</summary>
    public ReadOnlySpan<char> ClientFromForwardedFor(StringValues header, IPAddress peer, Span<char> buffer)
    {
        ReadOnlySpan<char> leftMost = [];
        for (var line = header.Count - 1; line >= 0; line--)
        {
            var text = header[line].AsSpan();
            while (text.Length > 0)
            {
                var comma = text.LastIndexOf(',');
                var hop = text[(comma + 1)..].Trim();
                text = comma < 0 ? [] : text[..comma];
                if (hop.IsEmpty)
                {
                    continue;
                }

                if (!IPAddress.TryParse(hop, out var address))
                {
                    // Not an address (a port, "unknown", garbage): nothing to the left can be believed.
                    return hop.Length <= PartitionKeyExtractor.MaxKeyLength ? hop : [];
                }

                if (!Contains(address))
                {
                    return PartitionKeyExtractor.Format(address, buffer);
                }

                leftMost = hop;
            }
        }

        return leftMost.IsEmpty ? PartitionKeyExtractor.Format(peer, buffer) : leftMost;
    }
}
