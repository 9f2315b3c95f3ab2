using System.Buffers;

namespace Turnpike.Http1;

/// <summary>
/// A strict, incremental parser of upstream HTTP/1.x response heads, with the same line and field rules as
/// <see cref="Http1RequestParser"/> and body framing per RFC 9112 §6.3: 1xx interim (101 separate), no body for a
/// HEAD request or 204/304, chunked, Content-Length, else close-delimited. Every rejection is 502 for the client
/// and the upstream connection is discarded. One instance per upstream connection, <see cref="Reset"/> per
/// response; no allocation per message.
/// </summary>
internal sealed class Http1ResponseParser : IDisposable
{
    private enum State : byte
    {
        StatusLine,
        Headers,
        Complete,
        Failed,
    }

    private const int BadGateway = 502;

    private readonly Http1Limits _limits;
    private byte[]? _scratch;
    private State _state;
    private Http1Method _requestMethod;
    private int _headerBytes;
    private int _headerCount;
    private int _headLength;
    private Http1FramingState _framing;
    private Http1ResponseInfo _info;

    public Http1ResponseParser(Http1Limits limits)
    {
        limits.Validate();
        _limits = limits;
    }

    public ref readonly Http1ResponseInfo Response => ref _info;

    /// <summary>Prepares for the response to a request with <paramref name="requestMethod"/> (HEAD: no body).</summary>
    public void Reset(Http1Method requestMethod)
    {
        _requestMethod = requestMethod;
        _state = State.StatusLine;
        _headerBytes = 0;
        _headerCount = 0;
        _headLength = 0;
        _framing = default;
        _info = default;
    }

    /// <summary>Parses as much of the response head as <paramref name="buffer"/> holds (see <see cref="Http1RequestParser.Parse"/>).</summary>
    public Http1ParseResult Parse<THandler>(ref THandler handler, in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out SequencePosition examined)
        where THandler : IHttp1ResponseHandler
    {
        if (_state >= State.Complete)
        {
            consumed = examined = buffer.Start;
            return _state == State.Complete ? Http1ParseResult.Complete : Http1ParseResult.Fail(BadGateway, Http1Error.InvalidStatusLine);
        }

        var sink = new LineSink<THandler>(this, ref handler);
        return Http1LineReader.ReadHead(ref sink, buffer, ref _scratch, out consumed, out examined);
    }

    /// <summary>Binds this parser and the caller's handler for <see cref="Http1LineReader.ReadHead"/>.</summary>
    private ref struct LineSink<THandler> : IHttp1LineSink
        where THandler : IHttp1ResponseHandler
    {
        private readonly Http1ResponseParser _parser;
        private ref THandler _handler;

        public LineSink(Http1ResponseParser parser, ref THandler handler)
        {
            _parser = parser;
            _handler = ref handler;
        }

        public readonly int MaxLineLength() => _parser.MaxLineLength();

        public Http1ParseResult OnLine(scoped ReadOnlySpan<byte> line, int lineBytes) => _parser.OnLine(ref _handler, line, lineBytes);

        public readonly Http1ParseResult LineFailure(Http1LineStatus status) => _parser.LineFailure(status);
    }

    public void Dispose()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    private int MaxLineLength() => _state == State.StatusLine
        ? _limits.MaxRequestLineLength
        : Math.Max(0, _limits.MaxHeaderBytes - _headerBytes - 2);

    private Http1ParseResult LineFailure(Http1LineStatus status) => status switch
    {
        Http1LineStatus.NeedMoreData => Http1ParseResult.NeedMoreData,
        Http1LineStatus.TooLong when _state == State.StatusLine => Fail(Http1Error.InvalidStatusLine),
        Http1LineStatus.TooLong => Fail(Http1Error.HeadersTooLarge),
        Http1LineStatus.BareLineFeed => Fail(Http1Error.BareLineFeed),
        _ => Fail(Http1Error.BareCarriageReturn),
    };

    /// <summary>One complete line (without CRLF). NeedMoreData means "line taken, go on".</summary>
    private Http1ParseResult OnLine<THandler>(ref THandler handler, ReadOnlySpan<byte> line, int lineBytes)
        where THandler : IHttp1ResponseHandler
    {
        _headLength += lineBytes;
        if (_state == State.StatusLine)
        {
            Http1Error statusError = ParseStatusLine(ref handler, line);
            if (statusError != Http1Error.None)
            {
                return Fail(statusError);
            }

            _state = State.Headers;
            return Http1ParseResult.NeedMoreData;
        }

        if (line.IsEmpty)
        {
            return FinishHead();
        }

        _headerBytes += lineBytes;
        if (++_headerCount > _limits.MaxHeaderCount)
        {
            return Fail(Http1Error.TooManyHeaders);
        }

        Http1Error error = OnFieldLine(ref handler, line);
        return error == Http1Error.None ? Http1ParseResult.NeedMoreData : Fail(error);
    }

    private Http1ParseResult Fail(Http1Error error)
    {
        _state = State.Failed;
        return Http1ParseResult.Fail(BadGateway, error);
    }

    /// <summary>status-line = HTTP-version SP 3DIGIT SP [reason-phrase]; a missing final SP is tolerated.</summary>
    private Http1Error ParseStatusLine<THandler>(ref THandler handler, ReadOnlySpan<byte> line)
        where THandler : IHttp1ResponseHandler
    {
        if (line.Length < 12 || line[8] != (byte)' ')
        {
            return Http1Error.InvalidStatusLine;
        }

        Http1Version version;
        if (line.StartsWith("HTTP/1.1"u8))
        {
            version = Http1Version.Http11;
        }
        else if (line.StartsWith("HTTP/1.0"u8))
        {
            version = Http1Version.Http10;
        }
        else
        {
            return Http1Error.InvalidVersion;
        }

        ReadOnlySpan<byte> code = line.Slice(9, 3);
        if (code.ContainsAnyExcept(Http1Syntax.Digits) || code[0] == (byte)'0')
        {
            return Http1Error.InvalidStatusLine;
        }

        ReadOnlySpan<byte> reason = default;
        if (line.Length > 12)
        {
            if (line[12] != (byte)' ')
            {
                return Http1Error.InvalidStatusLine;
            }

            reason = line[13..];
            if (reason.ContainsAnyExcept(Http1Syntax.FieldValueChars))
            {
                return Http1Error.InvalidStatusLine;
            }
        }

        int statusCode = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0');
        _info.Version = version;
        _info.StatusCode = statusCode;
        handler.OnStatusLine(version, statusCode, reason);
        return Http1Error.None;
    }

    private Http1Error OnFieldLine<THandler>(ref THandler handler, ReadOnlySpan<byte> line)
        where THandler : IHttp1ResponseHandler
    {
        Http1Error error = Http1Syntax.ParseFieldLine(line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);
        if (error != Http1Error.None)
        {
            return error;
        }

        Http1KnownHeader known = Http1Syntax.Classify(name);
        switch (known)
        {
            case Http1KnownHeader.ContentLength:
                error = _framing.OnContentLength(value);
                break;
            case Http1KnownHeader.TransferEncoding:
                error = _framing.OnTransferEncoding(value);
                break;
            case Http1KnownHeader.Connection:
                _framing.OnConnection(value);
                break;
        }

        if (error != Http1Error.None)
        {
            return error;
        }

        handler.OnHeader(known, name, value);
        return Http1Error.None;
    }

    private Http1ParseResult FinishHead()
    {
        // Both framings at once is a smuggling signal on the upstream side too: discard rather than pick one.
        if (_framing.HasTransferEncoding && _framing.HasContentLength)
        {
            return Fail(Http1Error.ContentLengthAndTransferEncoding);
        }

        if (_framing.ChunkedCount > 1)
        {
            return Fail(Http1Error.TransferEncodingNotChunked);
        }

        int status = _info.StatusCode;
        bool keepAlive = _framing.KeepAlive(_info.Version);
        if (status < 200)
        {
            _info.Framing = Http1BodyFraming.None;
            _info.IsUpgrade = status == 101;
            _info.IsInterim = status != 101;
            _info.Reusable = !_info.IsUpgrade;
        }
        else if (_requestMethod == Http1Method.Connect && status < 300)
        {
            // RFC 9112 §6.3 (2): a 2xx to CONNECT turns the connection into a tunnel.
            _info.Framing = Http1BodyFraming.None;
            _info.IsUpgrade = true;
            _info.Reusable = false;
        }
        else if (_requestMethod == Http1Method.Head || status == 204 || status == 304)
        {
            _info.Framing = Http1BodyFraming.None;
            _info.ContentLength = _framing.HasContentLength ? _framing.ContentLength : 0;
            _info.Reusable = keepAlive;
        }
        else if (_framing.HasTransferEncoding)
        {
            // RFC 9112 §6.3 (4): chunked not final → the body runs until the upstream closes.
            bool chunked = _framing.IsChunked;
            _info.Framing = chunked ? Http1BodyFraming.Chunked : Http1BodyFraming.CloseDelimited;
            _info.Reusable = chunked && keepAlive;
        }
        else if (_framing.HasContentLength)
        {
            _info.Framing = Http1BodyFraming.ContentLength;
            _info.ContentLength = _framing.ContentLength;
            _info.Reusable = keepAlive;
        }
        else
        {
            _info.Framing = Http1BodyFraming.CloseDelimited;
            _info.Reusable = false;
        }

        _info.HeadLength = _headLength;
        _state = State.Complete;
        return Http1ParseResult.Complete;
    }
}
