using System.Text;

namespace Turnpike.Http1;

/// <summary>
/// What the framing-related header fields of one message said so far (Content-Length, Transfer-Encoding,
/// Connection). Shared by the request and response parsers; reset per message.
/// </summary>
internal struct Http1FramingState
{
    public bool HasContentLength;
    public long ContentLength;
    public bool HasTransferEncoding;

    /// <summary>The last transfer coding seen (over all Transfer-Encoding fields) is chunked.</summary>
    public bool ChunkedIsLast;
    public int ChunkedCount;

    /// <summary>A coding other than chunked/gzip/deflate/compress was listed.</summary>
    public bool HasUnknownCoding;
    public bool ConnectionClose;
    public bool ConnectionKeepAlive;
    public bool ConnectionUpgrade;

    /// <summary>A second Content-Length field is an error even with the same value (RFC 9112 §6.3 allows a recipient to reject it; a proxy must, or forward one of them).</summary>
    public Http1Error OnContentLength(ReadOnlySpan<byte> value)
    {
        if (HasContentLength)
        {
            return Http1Error.DuplicateContentLength;
        }

        if (!Http1Syntax.TryParseContentLength(value, out ContentLength))
        {
            return Http1Error.InvalidContentLength;
        }

        HasContentLength = true;
        return Http1Error.None;
    }

    public Http1Error OnTransferEncoding(ReadOnlySpan<byte> value)
    {
        HasTransferEncoding = true;
        while (!value.IsEmpty)
        {
            int comma = value.IndexOf((byte)',');
            ReadOnlySpan<byte> element = comma < 0 ? value : value[..comma];
            value = comma < 0 ? default : value[(comma + 1)..];
            element = element.Trim(Http1Syntax.Ows);
            if (element.IsEmpty)
            {
                continue;
            }

            if (Ascii.EqualsIgnoreCase(element, "chunked"u8))
            {
                ChunkedCount++;
                ChunkedIsLast = true;
                continue;
            }

            ChunkedIsLast = false;
            int semicolon = element.IndexOf((byte)';');
            ReadOnlySpan<byte> coding = semicolon < 0 ? element : element[..semicolon].TrimEnd(Http1Syntax.Ows);
            if (!Http1Syntax.IsToken(coding))
            {
                return Http1Error.TransferEncodingNotChunked;
            }

            if (!IsKnownCoding(coding))
            {
                HasUnknownCoding = true;
            }
        }

        return Http1Error.None;
    }

    /// <summary>connection-option list (RFC 9110 §7.6.1); unknown options are ignored.</summary>
    public void OnConnection(ReadOnlySpan<byte> value)
    {
        while (!value.IsEmpty)
        {
            int comma = value.IndexOf((byte)',');
            ReadOnlySpan<byte> option = (comma < 0 ? value : value[..comma]).Trim(Http1Syntax.Ows);
            value = comma < 0 ? default : value[(comma + 1)..];
            if (Ascii.EqualsIgnoreCase(option, "close"u8))
            {
                ConnectionClose = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "keep-alive"u8))
            {
                ConnectionKeepAlive = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "upgrade"u8))
            {
                ConnectionUpgrade = true;
            }
        }
    }

    /// <summary>Transfer-Encoding lists exactly one chunked, and it is the final coding.</summary>
    public readonly bool IsChunked => ChunkedCount == 1 && ChunkedIsLast;

    public readonly bool KeepAlive(Http1Version version) =>
        !ConnectionClose && (version == Http1Version.Http11 || ConnectionKeepAlive);

    private static bool IsKnownCoding(ReadOnlySpan<byte> coding) =>
        Ascii.EqualsIgnoreCase(coding, "gzip"u8) || Ascii.EqualsIgnoreCase(coding, "deflate"u8) ||
        Ascii.EqualsIgnoreCase(coding, "compress"u8) || Ascii.EqualsIgnoreCase(coding, "x-gzip"u8) ||
        Ascii.EqualsIgnoreCase(coding, "x-compress"u8);
}
