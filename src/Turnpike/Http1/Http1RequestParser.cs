using System.Buffers;
using System.Text;

namespace Turnpike.Http1;

/// <summary>
/// A strict, incremental HTTP/1.1 request-head parser (RFC 9112) over <see cref="ReadOnlySequence{T}"/>, in the
/// System.IO.Pipelines style: each call reports how far it consumed (whole lines only) and examined, and the
/// caller passes the unconsumed rest plus new bytes next time. One instance per connection, <see cref="Reset"/>
/// between requests; it allocates nothing per request (a scratch array is rented once for lines that span
/// segments and returned on <see cref="Dispose"/>).
/// </summary>
/// <remarks>
/// Rejections: 400 malformed (bare CR/LF, obs-fold, space before colon, bad tokens or field bytes, missing or
/// repeated Host on HTTP/1.1, Content-Length not 1*DIGIT or repeated, Content-Length with Transfer-Encoding,
/// Transfer-Encoding not ending in a single chunked or on HTTP/1.0), 413 Content-Length above the body limit,
/// 414 request line too long, 431 too many or too large header fields, 501 an unknown transfer coding before
/// chunked, 505 an HTTP version other than 1.0/1.1.
/// </remarks>
internal sealed class Http1RequestParser : IDisposable
{
    private enum State : byte
    {
        RequestLine,
        Headers,
        Complete,
        Failed,
    }

    private readonly Http1Limits _limits;
    private byte[]? _scratch;
    private State _state;
    private bool _skippedEmptyLine;
    private int _headerBytes;
    private int _headerCount;
    private int _hostCount;
    private int _headLength;
    private Http1FramingState _framing;
    private Http1RequestInfo _info;

    public Http1RequestParser(Http1Limits limits)
    {
        limits.Validate();
        _limits = limits;
    }

    /// <summary>The parsed head; meaningful after <see cref="Http1ParseStatus.Complete"/>.</summary>
    public ref readonly Http1RequestInfo Request => ref _info;

    /// <summary>Prepares for the next request on the same connection.</summary>
    public void Reset()
    {
        _state = State.RequestLine;
        _skippedEmptyLine = false;
        _headerBytes = 0;
        _headerCount = 0;
        _hostCount = 0;
        _headLength = 0;
        _framing = default;
        _info = default;
    }

    /// <summary>Parses as much of the request head as <paramref name="buffer"/> holds.</summary>
    /// <param name="consumed">The end of the last complete line: the caller advances its reader to here.</param>
    /// <param name="examined">On NeedMoreData everything was looked at (wait for more bytes); else equal to <paramref name="consumed"/>.</param>
    public Http1ParseResult Parse<THandler>(ref THandler handler, in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out SequencePosition examined)
        where THandler : IHttp1RequestHandler
    {
        if (_state >= State.Complete)
        {
            consumed = examined = buffer.Start;
            return _state == State.Complete ? Http1ParseResult.Complete : Http1ParseResult.Fail(400, Http1Error.InvalidRequestLine);
        }

        var sink = new LineSink<THandler>(this, ref handler);
        return Http1LineReader.ReadHead(ref sink, buffer, ref _scratch, out consumed, out examined);
    }

    /// <summary>Binds this parser and the caller's handler for <see cref="Http1LineReader.ReadHead"/>.</summary>
    private ref struct LineSink<THandler> : IHttp1LineSink
        where THandler : IHttp1RequestHandler
    {
        private readonly Http1RequestParser _parser;
        private ref THandler _handler;

        public LineSink(Http1RequestParser parser, ref THandler handler)
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

    private int MaxLineLength() => _state == State.RequestLine
        ? _limits.MaxRequestLineLength
        : Math.Max(0, _limits.MaxHeaderBytes - _headerBytes - 2);

    private Http1ParseResult LineFailure(Http1LineStatus status) => status switch
    {
        Http1LineStatus.NeedMoreData => Http1ParseResult.NeedMoreData,
        Http1LineStatus.TooLong when _state == State.RequestLine => Fail(414, Http1Error.RequestLineTooLong),
        Http1LineStatus.TooLong => Fail(431, Http1Error.HeadersTooLarge),
        Http1LineStatus.BareLineFeed => Fail(400, Http1Error.BareLineFeed),
        _ => Fail(400, Http1Error.BareCarriageReturn),
    };

    /// <summary>One complete line (without CRLF). NeedMoreData means "line taken, go on".</summary>
    private Http1ParseResult OnLine<THandler>(ref THandler handler, ReadOnlySpan<byte> line, int lineBytes)
        where THandler : IHttp1RequestHandler
    {
        switch (_state)
        {
            case State.RequestLine:
            {
                _headLength += lineBytes;
                if (line.IsEmpty && !_skippedEmptyLine)
                {
                    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
                    _skippedEmptyLine = true;
                    return Http1ParseResult.NeedMoreData;
                }

                Http1Error error = ParseRequestLine(ref handler, line, out int statusCode);
                if (error != Http1Error.None)
                {
                    return Fail(statusCode, error);
                }

                _state = State.Headers;
                return Http1ParseResult.NeedMoreData;
            }

            case State.Headers:
            {
                _headLength += lineBytes;
                if (line.IsEmpty)
                {
                    return FinishHead();
                }

                _headerBytes += lineBytes;
                if (++_headerCount > _limits.MaxHeaderCount)
                {
                    return Fail(431, Http1Error.TooManyHeaders);
                }

                Http1Error error = OnFieldLine(ref handler, line);
                return error == Http1Error.None ? Http1ParseResult.NeedMoreData : Fail(400, error);
            }

            default:
                return Http1ParseResult.Fail(400, Http1Error.InvalidRequestLine);
        }
    }

    private Http1ParseResult Fail(int statusCode, Http1Error error)
    {
        _state = State.Failed;
        return Http1ParseResult.Fail(statusCode, error);
    }

    private Http1Error ParseRequestLine<THandler>(ref THandler handler, ReadOnlySpan<byte> line, out int statusCode)
        where THandler : IHttp1RequestHandler
    {
        statusCode = 400;
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            return Http1Error.InvalidRequestLine;
        }

        ReadOnlySpan<byte> methodName = line[..sp1];
        if (!Http1Syntax.IsToken(methodName))
        {
            return Http1Error.InvalidMethod;
        }

        ReadOnlySpan<byte> afterMethod = line[(sp1 + 1)..];
        int sp2 = afterMethod.IndexOf((byte)' ');
        if (sp2 <= 0)
        {
            return Http1Error.InvalidRequestLine;
        }

        ReadOnlySpan<byte> target = afterMethod[..sp2];
        ReadOnlySpan<byte> versionText = afterMethod[(sp2 + 1)..];
        Http1Version version;
        if (versionText.SequenceEqual("HTTP/1.1"u8))
        {
            version = Http1Version.Http11;
        }
        else if (versionText.SequenceEqual("HTTP/1.0"u8))
        {
            version = Http1Version.Http10;
        }
        else
        {
            bool wellFormed = versionText.Length == 8 && versionText.StartsWith("HTTP/"u8) &&
                char.IsAsciiDigit((char)versionText[5]) && versionText[6] == (byte)'.' && char.IsAsciiDigit((char)versionText[7]);
            statusCode = wellFormed ? 505 : 400;
            return wellFormed ? Http1Error.UnsupportedVersion : Http1Error.InvalidVersion;
        }

        if (target.ContainsAnyExcept(Http1Syntax.TargetChars))
        {
            return Http1Error.InvalidRequestTarget;
        }

        Http1Method method = Http1Syntax.ClassifyMethod(methodName);
        Http1TargetForm form;
        if (method == Http1Method.Connect)
        {
            if (!IsAuthorityForm(target))
            {
                return Http1Error.InvalidRequestTarget;
            }

            form = Http1TargetForm.Authority;
        }
        else if (target[0] == (byte)'/')
        {
            form = Http1TargetForm.Origin;
        }
        else if (target.Length == 1 && target[0] == (byte)'*')
        {
            if (method != Http1Method.Options)
            {
                return Http1Error.InvalidRequestTarget;
            }

            form = Http1TargetForm.Asterisk;
        }
        else if (IsAbsoluteForm(target))
        {
            form = Http1TargetForm.Absolute;
        }
        else
        {
            return Http1Error.InvalidRequestTarget;
        }

        _info.Method = method;
        _info.Version = version;
        _info.TargetForm = form;
        handler.OnRequestLine(method, methodName, target, form, version);
        return Http1Error.None;
    }

    private Http1Error OnFieldLine<THandler>(ref THandler handler, ReadOnlySpan<byte> line)
        where THandler : IHttp1RequestHandler
    {
        Http1Error error = Http1Syntax.ParseFieldLine(line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value);
        if (error != Http1Error.None)
        {
            return error;
        }

        Http1KnownHeader known = Http1Syntax.Classify(name);
        switch (known)
        {
            case Http1KnownHeader.Host:
                if (++_hostCount > 1)
                {
                    return Http1Error.MultipleHost;
                }

                if (value.ContainsAnyExcept(Http1Syntax.HostChars))
                {
                    return Http1Error.InvalidHost;
                }

                break;
            case Http1KnownHeader.ContentLength:
                error = _framing.OnContentLength(value);
                break;
            case Http1KnownHeader.TransferEncoding:
                error = _framing.OnTransferEncoding(value);
                break;
            case Http1KnownHeader.Connection:
                _framing.OnConnection(value);
                break;
            case Http1KnownHeader.Expect:
                if (Ascii.EqualsIgnoreCase(value, "100-continue"u8))
                {
                    _info.ExpectContinue = _info.Version == Http1Version.Http11;
                }

                break;
            case Http1KnownHeader.Upgrade:
                _info.HasUpgrade = true;
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
        if (_hostCount == 0 && _info.Version == Http1Version.Http11)
        {
            return Fail(400, Http1Error.MissingHost);
        }

        if (_framing.HasTransferEncoding)
        {
            if (_framing.HasContentLength)
            {
                return Fail(400, Http1Error.ContentLengthAndTransferEncoding);
            }

            if (_info.Version == Http1Version.Http10)
            {
                return Fail(400, Http1Error.TransferEncodingInHttp10);
            }

            if (!_framing.IsChunked)
            {
                return Fail(400, Http1Error.TransferEncodingNotChunked);
            }

            if (_framing.HasUnknownCoding)
            {
                return Fail(501, Http1Error.UnsupportedTransferCoding);
            }

            _info.Framing = Http1BodyFraming.Chunked;
        }
        else if (_framing.HasContentLength)
        {
            if (_framing.ContentLength > _limits.MaxBodySize)
            {
                return Fail(413, Http1Error.BodyTooLarge);
            }

            _info.Framing = Http1BodyFraming.ContentLength;
            _info.ContentLength = _framing.ContentLength;
        }

        _info.KeepAlive = _framing.KeepAlive(_info.Version);
        _info.HeadLength = _headLength;
        _state = State.Complete;
        return Http1ParseResult.Complete;
    }

    /// <summary>authority-form (CONNECT only): uri-host ":" port.</summary>
    private static bool IsAuthorityForm(ReadOnlySpan<byte> target)
    {
        int colon = target.LastIndexOf((byte)':');
        if (colon <= 0 || colon == target.Length - 1)
        {
            return false;
        }

        ReadOnlySpan<byte> port = target[(colon + 1)..];
        return port.Length <= 5 && !port.ContainsAnyExcept(Http1Syntax.Digits) && !target[..colon].ContainsAnyExcept(Http1Syntax.HostChars);
    }

    /// <summary>absolute-form: scheme "://" authority [path] (RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).</summary>
    private static bool IsAbsoluteForm(ReadOnlySpan<byte> target)
    {
        if (!char.IsAsciiLetter((char)target[0]))
        {
            return false;
        }

        int i = 1;
        while (i < target.Length && (char.IsAsciiLetterOrDigit((char)target[i]) || target[i] is (byte)'+' or (byte)'-' or (byte)'.'))
        {
            i++;
        }

        return target.Length > i + 3 && target[i..].StartsWith("://"u8);
    }
}
