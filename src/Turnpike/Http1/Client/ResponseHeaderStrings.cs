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
    private readonly ResponseHeaderLine?[] _lines = new ResponseHeaderLine?[Positions];

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

        // A value with non-ASCII bytes would never be matched again (see Holds): it is not kept, so it gets no line either.
        var text = Encoding.Latin1.GetString(bytes);
        return Ascii.IsValid(bytes) ? _values[position] = text : text;
    }

    /// <summary>
    /// The field as the bytes of a head line (<c>name: value</c> CRLF), for the raw listener to write as they are: the
    /// same object while this position keeps the same name and value strings (an upstream's fields, except a Date that
    /// changes once a second), so that a response head is copied rather than encoded field by field. Null unless the
    /// strings are this position's shared ones (the caller encodes those itself): a field that gets a fresh string
    /// every time costs no line either.
    /// </summary>
    public byte[]? Line(int position, ResponseHeaderName name, string value)
    {
        if ((uint)position >= Positions || !ReferenceEquals(_names[position], name) || !ReferenceEquals(_values[position], value))
        {
            return null; // not this position's shared strings (a fresh string, or a racing connection replaced them)
        }

        var cached = _lines[position];
        if (cached is not null && ReferenceEquals(cached.Name, name) && ReferenceEquals(cached.Value, value))
        {
            return cached.Bytes;
        }

        // Both strings were decoded from the upstream's bytes as Latin-1 (above): encoding them back is lossless.
        var bytes = new byte[name.Value.Length + value.Length + 4];
        Http1Syntax.WriteFieldLine(name.Value, value, bytes);
        _lines[position] = new ResponseHeaderLine(name, value, bytes);
        return bytes;
    }

    /// <summary>True when <paramref name="cached"/> spells the ASCII <paramref name="bytes"/> (non-ASCII bytes never match: they get a fresh string).</summary>
    private static bool Holds(string cached, ReadOnlySpan<byte> bytes) => cached.Length == bytes.Length && Ascii.Equals(bytes, cached);
}

/// <summary>One position's field as head-line bytes, with the name and value objects they were encoded from.</summary>
internal sealed class ResponseHeaderLine(ResponseHeaderName name, string value, byte[] bytes)
{
    public ResponseHeaderName Name { get; } = name;

    public string Value { get; } = value;

    public byte[] Bytes { get; } = bytes;
}

/// <summary>A response header name with the class the direct path gives it, computed once per name object.</summary>
internal sealed class ResponseHeaderName(string value)
{
    internal const byte Unclassified = byte.MaxValue;

    public string Value { get; } = value;

    /// <summary><see cref="Unclassified"/> until the first <see cref="Http1UpstreamConnection.HeaderClass"/>; every thread computes the same.</summary>
    public byte Class { get; set; } = Unclassified;
}
