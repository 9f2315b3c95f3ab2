using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Turnpike.ConnectionLimits;

/// <summary>
/// A client IP as a 128-bit value: IPv6 as is, IPv4 in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so a client seen
/// on a dual-stack listener and on an IPv4 listener has the same key. A value type: looking one up allocates nothing.
/// </summary>
internal readonly struct IpKey : IEquatable<IpKey>
{
    public IpKey(ulong high, ulong low)
    {
        High = high;
        Low = low;
    }

    public ulong High { get; }

    public ulong Low { get; }

    public bool IsIPv4Mapped => High == 0 && (Low >> 32) == 0xffff;

    public static bool TryCreate(IPAddress address, out IpKey key)
    {
        Span<byte> bytes = stackalloc byte[16];
        bytes.Clear();
        switch (address.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                bytes[10] = 0xff;
                bytes[11] = 0xff;
                address.TryWriteBytes(bytes[12..], out _);
                break;
            case AddressFamily.InterNetworkV6:
                address.TryWriteBytes(bytes, out _);
                break;
            default:
                key = default;
                return false;
        }

        key = new IpKey(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        return true;
    }

    public static IpKey Parse(string address) =>
        TryCreate(IPAddress.Parse(address), out var key) ? key : throw new FormatException($"'{address}' is not an IP address");

    public IPAddress ToAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Low);
        return IsIPv4Mapped ? new IPAddress(bytes[12..]) : new IPAddress(bytes);
    }

    public bool Equals(IpKey other) => High == other.High && Low == other.Low;

    public override bool Equals(object? obj) => obj is IpKey other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(High, Low);

    public override string ToString() => ToAddress().ToString();

    public static bool operator ==(IpKey left, IpKey right) => left.Equals(right);

    public static bool operator !=(IpKey left, IpKey right) => !left.Equals(right);
}

/// <summary>An IP address or CIDR block (10.0.0.0/8, fd00::/8, 127.0.0.1 meaning /32), matched against <see cref="IpKey"/>.</summary>
internal readonly struct IpRange
{
    private readonly IpKey _network;
    private readonly ulong _maskHigh;
    private readonly ulong _maskLow;

    private IpRange(IpKey network, int prefix)
    {
        // Prefix in the 128-bit space (IPv4 prefixes are offset by 96).
        Prefix = prefix;
        _maskHigh = prefix >= 64 ? ulong.MaxValue : prefix == 0 ? 0 : ulong.MaxValue << (64 - prefix);
        _maskLow = prefix <= 64 ? 0 : prefix == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - prefix);
        _network = new IpKey(network.High & _maskHigh, network.Low & _maskLow);
    }

    public int Prefix { get; }

    public bool Contains(IpKey key) => (key.High & _maskHigh) == _network.High && (key.Low & _maskLow) == _network.Low;

    /// <summary>
    /// Parses "address" or "address/prefix". A block with bits set beyond its prefix (10.0.0.1/8) is refused, with
    /// the block it probably means in <paramref name="suggestion"/>.
    /// </summary>
    public static bool TryParse(string text, out IpRange range, out string? suggestion)
    {
        range = default;
        suggestion = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        var isV6 = addressText.Contains(':', StringComparison.Ordinal);
        // IPAddress.TryParse takes "10" and "10.1" as IPv4 addresses; only the dotted-quad form is meant here.
        if ((!isV6 && addressText.Count(c => c == '.') != 3) || !IPAddress.TryParse(addressText, out var address) || !IpKey.TryCreate(address, out var key))
        {
            return false;
        }

        var bits = isV6 ? 128 : 32;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            return false;
        }

        var candidate = new IpRange(key, isV6 ? prefix : prefix + 96);
        if (candidate._network != key)
        {
            suggestion = candidate.ToString();
            return false;
        }

        range = candidate;
        return true;
    }

    public override string ToString() =>
        _network.IsIPv4Mapped && Prefix >= 96 ? $"{_network}/{Prefix - 96}" : $"{_network}/{Prefix}";
}
