using System.Buffers.Text;

namespace Turnpike.Tools.Bench;

/// <summary>What <see cref="Http1ResponseParser.Parse"/> found.</summary>
public enum ParseStatus
{
    /// <summary>More bytes are needed.</summary>
    NeedMore,

    /// <summary>One whole response was consumed.</summary>
    Complete,

    /// <summary>The bytes are not an HTTP/1.1 response this client understands: a read error.</summary>
    Malformed,
}

/// <summary>
/// A minimal incremental HTTP/1.x response parser for the bench client: the status line and the three headers that
/// frame the body (Content-Length, Transfer-Encoding: chunked, Connection: close), then the body by length, by chunks,
/// or until the server closes. Header fields are not kept. It consumes whole header blocks and chunk-size lines
/// only, so the caller keeps unconsumed bytes at the front of its buffer and reads more behind them.
/// </summary>
public struct Http1ResponseParser
{
    private const int MaxChunkLine = 1024;

    private State _state;
    private long _remaining;
    private bool _isHead;

    private enum State
    {
        Head,
        FixedBody,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,
        Trailers,
        UntilClose,
    }

    /// <summary>The status code of the response being read (valid once the header block was consumed).</summary>
    public int StatusCode { get; private set; }

    /// <summary>The server asked to close the connection after this response (or the body ends at close).</summary>
    public bool CloseAfter { get; private set; }

    /// <summary>The body is delimited by the server closing the connection; end of stream completes it.</summary>
    public readonly bool ReadsUntilClose => _state == State.UntilClose;

    /// <summary>Starts on the next response; <paramref name="isHead"/> when the request was a HEAD.</summary>
    public void Reset(bool isHead)
    {
        _state = State.Head;
        _remaining = 0;
        _isHead = isHead;
        StatusCode = 0;
        CloseAfter = false;
    }

    public ParseStatus Parse(ReadOnlySpan<byte> data, out int consumed)
    {
        consumed = 0;
        while (true)
        {
            var rest = data[consumed..];
            switch (_state)
            {
                case State.Head:
                {
                    var end = rest.IndexOf("\r\n\r\n"u8);
                    if (end < 0)
                    {
                        return ParseStatus.NeedMore;
                    }

                    if (!ParseHead(rest[..(end + 2)]))
                    {
                        return ParseStatus.Malformed;
                    }

                    consumed += end + 4;
                    if (StatusCode is >= 100 and < 200)
                    {
                        // An interim answer (100 Continue): the real one follows.
                        continue;
                    }

                    if (_state == State.Head)
                    {
                        return ParseStatus.Complete;
                    }

                    continue;
                }

                case State.FixedBody:
                case State.ChunkData:
                {
                    var take = (int)Math.Min(_remaining, rest.Length);
                    consumed += take;
                    _remaining -= take;
                    if (_remaining > 0)
                    {
                        return ParseStatus.NeedMore;
                    }

                    if (_state == State.FixedBody)
                    {
                        _state = State.Head;
                        return ParseStatus.Complete;
                    }

                    _state = State.ChunkDataEnd;
                    continue;
                }

                case State.ChunkDataEnd:
                {
                    if (rest.Length < 2)
                    {
                        return ParseStatus.NeedMore;
                    }

                    if (rest[0] != '\r' || rest[1] != '\n')
                    {
                        return ParseStatus.Malformed;
                    }

                    consumed += 2;
                    _state = State.ChunkSize;
                    continue;
                }

                case State.ChunkSize:
                {
                    var lineEnd = rest.IndexOf("\r\n"u8);
                    if (lineEnd < 0)
                    {
                        return rest.Length > MaxChunkLine ? ParseStatus.Malformed : ParseStatus.NeedMore;
                    }

                    var line = rest[..lineEnd];
                    var semicolon = line.IndexOf((byte)';');
                    if (semicolon >= 0)
                    {
                        line = line[..semicolon];
                    }

                    line = line.TrimEnd((byte)' ');
                    if (line.Length is 0 or > 15 || !Utf8Parser.TryParse(line, out long size, out var used, 'x') || used != line.Length || size < 0)
                    {
                        return ParseStatus.Malformed;
                    }

                    consumed += lineEnd + 2;
                    if (size == 0)
                    {
                        _state = State.Trailers;
                        continue;
                    }

                    _remaining = size;
                    _state = State.ChunkData;
                    continue;
                }

                case State.Trailers:
                {
                    var lineEnd = rest.IndexOf("\r\n"u8);
                    if (lineEnd < 0)
                    {
                        return rest.Length > 16 * 1024 ? ParseStatus.Malformed : ParseStatus.NeedMore;
                    }

                    consumed += lineEnd + 2;
                    if (lineEnd == 0)
                    {
                        _state = State.Head;
                        return ParseStatus.Complete;
                    }

                    continue;
                }

                case State.UntilClose:
                    consumed += rest.Length;
                    return ParseStatus.NeedMore;

                default:
                    return ParseStatus.Malformed;
            }
        }
    }

    /// <summary>The status line and header lines, each ending in CRLF (the blank line excluded).</summary>
    private bool ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK\r\n"
        if (head.Length < 14 || !head.StartsWith("HTTP/1."u8) || head[8] != ' ' || (head[7] != '1' && head[7] != '0'))
        {
            return false;
        }

        if (!Utf8Parser.TryParse(head.Slice(9, 3), out int status, out var used) || used != 3 || status < 100 || (head.Length > 12 && head[12] != ' ' && head[12] != '\r'))
        {
            return false;
        }

        StatusCode = status;
        CloseAfter = head[7] == '0'; // HTTP/1.0 closes unless it says keep-alive
        var lineStart = head.IndexOf("\r\n"u8) + 2;
        long contentLength = -1;
        var chunked = false;
        while (lineStart < head.Length)
        {
            var line = head[lineStart..];
            var lineEnd = line.IndexOf("\r\n"u8);
            line = line[..lineEnd];
            lineStart += lineEnd + 2;
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return false;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (name.EqualsAsciiIgnoreCase("content-length"u8))
            {
                if (!Utf8Parser.TryParse(value, out long length, out var n) || n != value.Length || length < 0 || (contentLength >= 0 && contentLength != length))
                {
                    return false;
                }

                contentLength = length;
            }
            else if (name.EqualsAsciiIgnoreCase("transfer-encoding"u8))
            {
                chunked = value.EndsWithAsciiIgnoreCase("chunked"u8);
                if (!chunked)
                {
                    return false; // gzip-only or unknown framing: nothing this client can delimit
                }
            }
            else if (name.EqualsAsciiIgnoreCase("connection"u8))
            {
                if (value.ContainsAsciiIgnoreCase("close"u8))
                {
                    CloseAfter = true;
                }
                else if (value.ContainsAsciiIgnoreCase("keep-alive"u8))
                {
                    CloseAfter = false;
                }
            }
        }

        if (_isHead || status is 204 or 304 || status < 200)
        {
            _state = State.Head;
        }
        else if (chunked)
        {
            _state = State.ChunkSize;
        }
        else if (contentLength >= 0)
        {
            _remaining = contentLength;
            _state = contentLength == 0 ? State.Head : State.FixedBody;
        }
        else
        {
            _state = State.UntilClose;
            CloseAfter = true;
        }

        return true;
    }
}

internal static class AsciiSpanExtensions
{
    public static bool EqualsAsciiIgnoreCase(this ReadOnlySpan<byte> span, ReadOnlySpan<byte> lower) =>
        System.Text.Ascii.EqualsIgnoreCase(span, lower);

    public static bool EndsWithAsciiIgnoreCase(this ReadOnlySpan<byte> span, ReadOnlySpan<byte> lower) =>
        span.Length >= lower.Length && System.Text.Ascii.EqualsIgnoreCase(span[^lower.Length..], lower);

    public static bool ContainsAsciiIgnoreCase(this ReadOnlySpan<byte> span, ReadOnlySpan<byte> lower)
    {
        for (var i = 0; i + lower.Length <= span.Length; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(span.Slice(i, lower.Length), lower))
            {
                return true;
            }
        }

        return false;
    }
}
