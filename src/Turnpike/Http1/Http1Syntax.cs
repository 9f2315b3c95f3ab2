using System.Buffers;
using System.Text;

namespace Turnpike.Http1;

/// <summary>Header fields the parsers act on; everything else is <see cref="None"/> and only validated.</summary>
internal enum Http1KnownHeader : byte
{
    None,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    Upgrade,
}

/// <summary>HTTP/1.0 or HTTP/1.1 (the only versions the parsers accept).</summary>
internal enum Http1Version : byte
{
    Http10,
    Http11,
}

/// <summary>The request methods with a name; any other token is <see cref="Custom"/>.</summary>
internal enum Http1Method : byte
{
    Custom,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Connect,
    Patch,
    Trace,
}

/// <summary>RFC 9112 §3.2 request-target forms.</summary>
internal enum Http1TargetForm : byte
{
    Origin,
    Absolute,
    Authority,
    Asterisk,
}

/// <summary>How the body of a message is delimited (RFC 9112 §6.3).</summary>
internal enum Http1BodyFraming : byte
{
    /// <summary>No body (requests without Content-Length/Transfer-Encoding, HEAD/1xx/204/304 responses).</summary>
    None,
    ContentLength,
    Chunked,

    /// <summary>A response body that ends when the upstream closes the connection.</summary>
    CloseDelimited,
}

/// <summary>Character classes and small grammar rules of RFC 9110/9112, on bytes.</summary>
internal static class Http1Syntax
{
    /// <summary>tchar (RFC 9110 §5.6.2).</summary>
    public static readonly SearchValues<byte> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>field-vchar / obs-text / SP / HTAB (RFC 9110 §5.5).</summary>
    public static readonly SearchValues<byte> FieldValueChars = SearchValues.Create(Range(0x80, 0xFF, 0x20, 0x7E, 0x09, 0x09));

    /// <summary>Request-target bytes: VCHAR except '#' (a fragment is never sent, RFC 9112 §3.2).</summary>
    public static readonly SearchValues<byte> TargetChars = SearchValues.Create(Range(0x21, 0x22, 0x24, 0x7E, 0, -1));

    /// <summary>uri-host and port (reg-name, IP-literal, pct-encoded).</summary>
    public static readonly SearchValues<byte> HostChars =
        SearchValues.Create("-._~!$&'()*+,;=:%[]0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static readonly SearchValues<byte> Digits = SearchValues.Create("0123456789"u8);

    public static ReadOnlySpan<byte> Ows => " \t"u8;

    public static bool IsToken(ReadOnlySpan<byte> value) => !value.IsEmpty && !value.ContainsAnyExcept(TokenChars);

    /// <summary>Content-Length = 1*DIGIT, no sign, no whitespace inside, no list, not above <see cref="long.MaxValue"/>.</summary>
    public static bool TryParseContentLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        if (value.IsEmpty || value.ContainsAnyExcept(Digits))
        {
            return false;
        }

        long result = 0;
        foreach (byte b in value)
        {
            int digit = b - '0';
            if (result > (long.MaxValue - digit) / 10)
            {
                return false;
            }

            result = (result * 10) + digit;
        }

        length = result;
        return true;
    }

    public static Http1KnownHeader Classify(ReadOnlySpan<byte> name) => name.Length switch
    {
        4 when Ascii.EqualsIgnoreCase(name, "Host"u8) => Http1KnownHeader.Host,
        6 when Ascii.EqualsIgnoreCase(name, "Expect"u8) => Http1KnownHeader.Expect,
        7 when Ascii.EqualsIgnoreCase(name, "Upgrade"u8) => Http1KnownHeader.Upgrade,
        10 when Ascii.EqualsIgnoreCase(name, "Connection"u8) => Http1KnownHeader.Connection,
        14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8) => Http1KnownHeader.ContentLength,
        17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8) => Http1KnownHeader.TransferEncoding,
        _ => Http1KnownHeader.None,
    };

    /// <summary>Methods are case-sensitive (RFC 9110 §9.1).</summary>
    public static Http1Method ClassifyMethod(ReadOnlySpan<byte> method) => method.Length switch
    {
        3 when method.SequenceEqual("GET"u8) => Http1Method.Get,
        3 when method.SequenceEqual("PUT"u8) => Http1Method.Put,
        4 when method.SequenceEqual("HEAD"u8) => Http1Method.Head,
        4 when method.SequenceEqual("POST"u8) => Http1Method.Post,
        5 when method.SequenceEqual("PATCH"u8) => Http1Method.Patch,
        5 when method.SequenceEqual("TRACE"u8) => Http1Method.Trace,
        6 when method.SequenceEqual("DELETE"u8) => Http1Method.Delete,
        7 when method.SequenceEqual("OPTIONS"u8) => Http1Method.Options,
        7 when method.SequenceEqual("CONNECT"u8) => Http1Method.Connect,
        _ => Http1Method.Custom,
    };

    /// <summary>
    /// Splits one field line (without CRLF) into name and value (OWS trimmed). Rejects obs-fold, a missing colon,
    /// whitespace before the colon, a name that is not a token and value bytes outside field-vchar/SP/HTAB.
    /// </summary>
    public static Http1Error ParseFieldLine(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        name = default;
        value = default;
        if (line[0] is (byte)' ' or (byte)'\t')
        {
            return Http1Error.ObsoleteLineFolding;
        }

        int colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            return Http1Error.MissingColon;
        }

        name = line[..colon];
        if (name.IsEmpty)
        {
            return Http1Error.InvalidFieldName;
        }

        if (name.ContainsAnyExcept(TokenChars))
        {
            return name[^1] is (byte)' ' or (byte)'\t' ? Http1Error.WhitespaceBeforeColon : Http1Error.InvalidFieldName;
        }

        value = line[(colon + 1)..].Trim(Ows);
        return value.ContainsAnyExcept(FieldValueChars) ? Http1Error.InvalidFieldValue : Http1Error.None;
    }

    private static byte[] Range(int from1, int to1, int from2, int to2, int from3, int to3)
    {
        var bytes = new List<byte>(256);
        for (int i = from1; i <= to1; i++)
        {
            bytes.Add((byte)i);
        }

        for (int i = from2; i <= to2; i++)
        {
            bytes.Add((byte)i);
        }

        for (int i = from3; i <= to3; i++)
        {
            bytes.Add((byte)i);
        }

        return [.. bytes];
    }

    /// <summary>
    /// Writes the field line <c>name: value</c> CRLF as Latin-1 (what a response head carries); returns the bytes
    /// written (<paramref name="name"/>.Length + <paramref name="value"/>.Length + 4). No checks: the caller knows both
    /// hold only Latin-1 without CR, LF and NUL.
    /// </summary>
    public static int WriteFieldLine(string name, string value, Span<byte> destination)
    {
        var written = Encoding.Latin1.GetBytes(name, destination);
        destination[written++] = (byte)':';
        destination[written++] = (byte)' ';
        written += Encoding.Latin1.GetBytes(value, destination[written..]);
        destination[written++] = (byte)'\r';
        destination[written++] = (byte)'\n';
        return written;
    }
}
