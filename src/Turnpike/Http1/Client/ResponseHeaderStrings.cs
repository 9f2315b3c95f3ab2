using System.Text;

namespace Turnpike.Http1.Client;

/// <summary>
/// The strings of one destination's response header fields, by position, shared by all its connections (Kestrel-style
/// reuse: equal bytes at the same position give the same string). An upstream that answers with the same fields
/// every time — nearly all do — has one set of strings that stays in cache, instead of one set per connection
/// that is cold again at every exchange when a thousand connections take turns.
/// Lock-free: a slot holds an immutable object and is simply overwritten; a racing writer only costs a string.
/// </summary>
internal sealed class ResponseHeaderStrings
{
    /// <summary>Positions beyond this many fields get fresh strings every time (rare).</summary>
    internal const int Positions = 64;

    private readonly ResponseHeaderName?[] _names = new ResponseHeaderName?[Positions];
    private readonly string?[] _values = new string?[Positions];

    public ResponseHeaderName Name(int position, ReadOnlySpan<byte> bytes)
    {
        if ((uint)position >= Positions)
        {
            return new ResponseHeaderName(Encoding.Latin1.GetString(bytes));
        }

        var cached = _names[position];
        if (cached is not null && Holds(cached.Value, bytes))
        {
            return cached;
        }

        return _names[position] = new ResponseHeaderName(Encoding.Latin1.GetString(bytes));
    }

    public string Value(int position, ReadOnlySpan<byte> bytes)
    {
        if ((uint)position >= Positions)
        {
            return Encoding.Latin1.GetString(bytes);
        }

        var cached = _values[position];
        if (cached is not null && Holds(cached, bytes))
        {
            return cached;
        }

        return _values[position] = Encoding.Latin1.GetString(bytes);
    }

    /// <summary>True when <paramref name="cached"/> spells the ASCII <paramref name="bytes"/> (non-ASCII bytes never match: they get a fresh string).</summary>
    private static bool Holds(string cached, ReadOnlySpan<byte> bytes) => cached.Length == bytes.Length && Ascii.Equals(bytes, cached);
}

/// <summary>A response header name with the class the direct path gives it, computed once per name object.</summary>
internal sealed class ResponseHeaderName(string value)
{
    internal const byte Unclassified = byte.MaxValue;

    public string Value { get; } = value;

    /// <summary><see cref="Unclassified"/> until the first <see cref="Http1UpstreamConnection.HeaderClass"/>; every thread computes the same.</summary>
    public byte Class { get; set; } = Unclassified;
}
