using System.Buffers;

namespace Turnpike.Http1;

/// <summary>What one call to <see cref="ChunkedDecoder.Decode"/> produced.</summary>
internal enum ChunkedStatus : byte
{
    /// <summary>Call again with more bytes (the unconsumed rest plus new data).</summary>
    NeedMoreData,

    /// <summary><c>data</c> holds body bytes (part or all of a chunk); forward them and call again.</summary>
    Data,

    /// <summary>The last chunk and the trailer section were read: the message is complete.</summary>
    Complete,

    /// <summary>Malformed or over a limit: see <see cref="ChunkedDecoder.Error"/>; the connection must be closed.</summary>
    Error,
}

/// <summary>
/// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1): chunk-size as 1*HEXDIG (no sign, no
/// overflow), chunk extensions tolerated but bounded, CRLF after each chunk's data, a bounded trailer section
/// validated like header fields, then completion. Request side: errors are 400, a body above the limit 413;
/// response side: every error is 502. One instance per connection, <see cref="Reset"/> per message.
/// </summary>
internal sealed class ChunkedDecoder : IDisposable
{
    private enum State : byte
    {
        Size,
        Data,
        DataCrlf,
        Trailers,
        Complete,
        Failed,
    }

    private readonly Http1Limits _limits;
    private readonly bool _requestSide;
    private byte[]? _scratch;
    private State _state;
    private long _remaining;
    private long _total;
    private int _trailerBytes;

    public ChunkedDecoder(Http1Limits limits, bool requestSide)
    {
        limits.Validate();
        _limits = limits;
        _requestSide = requestSide;
    }

    /// <summary>The body bytes decoded so far.</summary>
    public long BodyLength => _total;

    /// <summary>Why <see cref="ChunkedStatus.Error"/> was returned, as a status code and reason.</summary>
    public Http1ParseResult Error { get; private set; }

    public void Reset()
    {
        _state = State.Size;
        _remaining = 0;
        _total = 0;
        _trailerBytes = 0;
        Error = default;
    }

    /// <param name="buffer">The unconsumed bytes of the body.</param>
    /// <param name="consumed">How far the caller may advance (past framing and the returned data).</param>
    /// <param name="examined">How far was looked at; on NeedMoreData, wait for bytes beyond it.</param>
    /// <param name="data">On <see cref="ChunkedStatus.Data"/>, the body bytes (a slice of <paramref name="buffer"/>).</param>
    public ChunkedStatus Decode(in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out SequencePosition examined, out ReadOnlySequence<byte> data)
    {
        ReadOnlySequence<byte> rest = buffer;
        consumed = buffer.Start;
        examined = buffer.End;
        data = default;
        while (true)
        {
            switch (_state)
            {
                case State.Size:
                {
                    // 16 hex digits, BWS, ';' and the extension, CRLF.
                    int maxLine = 16 + 8 + _limits.MaxChunkExtensionLength;
                    var status = Http1LineReader.TryReadLine(ref rest, maxLine, ref _scratch, out ReadOnlySpan<byte> line);
                    if (status != Http1LineStatus.Line)
                    {
                        return LineFailure(status, Http1Error.ChunkExtensionTooLong);
                    }

                    consumed = rest.Start;
                    Http1Error error = ParseSizeLine(line, out long size);
                    if (error != Http1Error.None)
                    {
                        return Fail(error);
                    }

                    if (size == 0)
                    {
                        _state = State.Trailers;
                        break;
                    }

                    if (size > _limits.MaxBodySize - _total)
                    {
                        return _requestSide ? Fail(Http1Error.BodyTooLarge, 413) : Fail(Http1Error.BodyTooLarge);
                    }

                    _remaining = size;
                    _state = State.Data;
                    break;
                }

                case State.Data:
                {
                    if (rest.IsEmpty)
                    {
                        return ChunkedStatus.NeedMoreData;
                    }

                    long take = Math.Min(_remaining, rest.Length);
                    data = rest.Slice(0, take);
                    _remaining -= take;
                    _total += take;
                    consumed = data.End;
                    examined = consumed;
                    if (_remaining == 0)
                    {
                        _state = State.DataCrlf;
                    }

                    return ChunkedStatus.Data;
                }

                case State.DataCrlf:
                {
                    if (rest.Length < 2)
                    {
                        if (!rest.IsEmpty && rest.FirstSpan[0] != (byte)'\r')
                        {
                            return Fail(Http1Error.InvalidChunkTerminator);
                        }

                        return ChunkedStatus.NeedMoreData;
                    }

                    Span<byte> crlf = stackalloc byte[2];
                    rest.Slice(0, 2).CopyTo(crlf);
                    if (crlf[0] != (byte)'\r' || crlf[1] != (byte)'\n')
                    {
                        return Fail(Http1Error.InvalidChunkTerminator);
                    }

                    rest = rest.Slice(2);
                    consumed = rest.Start;
                    _state = State.Size;
                    break;
                }

                case State.Trailers:
                {
                    int maxLine = Math.Max(0, _limits.MaxTrailerBytes - _trailerBytes - 2);
                    long before = rest.Length;
                    var status = Http1LineReader.TryReadLine(ref rest, maxLine, ref _scratch, out ReadOnlySpan<byte> line);
                    if (status != Http1LineStatus.Line)
                    {
                        return LineFailure(status, Http1Error.TrailersTooLarge);
                    }

                    consumed = rest.Start;
                    if (line.IsEmpty)
                    {
                        _state = State.Complete;
                        examined = consumed;
                        return ChunkedStatus.Complete;
                    }

                    _trailerBytes += (int)(before - rest.Length);
                    Http1Error error = Http1Syntax.ParseFieldLine(line, out _, out _);
                    if (error != Http1Error.None)
                    {
                        return Fail(error);
                    }

                    break;
                }

                case State.Complete:
                    examined = consumed;
                    return ChunkedStatus.Complete;

                default:
                    return ChunkedStatus.Error;
            }
        }
    }

    public void Dispose()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    /// <summary>chunk-size [ BWS ";" chunk-ext ] — extensions are checked for bytes, not interpreted.</summary>
    private static Http1Error ParseSizeLine(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        int i = 0;
        while (i < line.Length && char.IsAsciiHexDigit((char)line[i]))
        {
            if (size > (long.MaxValue >> 4))
            {
                return Http1Error.InvalidChunkSize;
            }

            size = (size << 4) | (long)HexValue(line[i]);
            i++;
        }

        if (i == 0)
        {
            return Http1Error.InvalidChunkSize;
        }

        ReadOnlySpan<byte> extension = line[i..].TrimStart(Http1Syntax.Ows);
        if (extension.IsEmpty)
        {
            return i == line.Length ? Http1Error.None : Http1Error.InvalidChunkSize;
        }

        if (extension[0] != (byte)';')
        {
            return Http1Error.InvalidChunkSize;
        }

        return extension.ContainsAnyExcept(Http1Syntax.FieldValueChars) ? Http1Error.InvalidChunkExtension : Http1Error.None;
    }

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private ChunkedStatus LineFailure(Http1LineStatus status, Http1Error tooLongError) => status switch
    {
        Http1LineStatus.NeedMoreData => ChunkedStatus.NeedMoreData,
        Http1LineStatus.TooLong => _requestSide && tooLongError == Http1Error.TrailersTooLarge ? Fail(tooLongError, 431) : Fail(tooLongError),
        Http1LineStatus.BareLineFeed => Fail(Http1Error.BareLineFeed),
        _ => Fail(Http1Error.BareCarriageReturn),
    };

    private ChunkedStatus Fail(Http1Error error, int requestStatus = 400)
    {
        _state = State.Failed;
        Error = Http1ParseResult.Fail(_requestSide ? requestStatus : 502, error);
        return ChunkedStatus.Error;
    }
}
