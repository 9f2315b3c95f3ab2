using System.Runtime.CompilerServices;
using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Turnpike.Http1.Server;

/// <summary>
/// Request side: the parser's callbacks fill the request feature. Strings of the previous request on this connection
/// are reused when the bytes are equal (target, path, query, header names and values), method and common header
/// names are interned constants, so a repeated keep-alive request allocates no strings.
/// </summary>
internal sealed partial class RawConnection
{
    private static readonly string[] CommonHeaderNames =
    [
        HeaderNames.Accept, HeaderNames.AcceptEncoding, HeaderNames.AcceptLanguage, HeaderNames.AcceptCharset,
        HeaderNames.Authorization, HeaderNames.CacheControl, HeaderNames.ContentType, HeaderNames.Cookie,
        HeaderNames.Origin, HeaderNames.Pragma, HeaderNames.Referer, HeaderNames.UserAgent, HeaderNames.TraceParent,
        HeaderNames.TraceState, "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
        HeaderNames.XRequestedWith, HeaderNames.IfNoneMatch, HeaderNames.IfModifiedSince, HeaderNames.Range,
        HeaderNames.KeepAlive, HeaderNames.TE, HeaderNames.SecWebSocketKey, HeaderNames.SecWebSocketVersion,
        HeaderNames.SecWebSocketProtocol, HeaderNames.SecWebSocketExtensions, HeaderNames.AccessControlRequestMethod,
        HeaderNames.AccessControlRequestHeaders, HeaderNames.ContentEncoding, HeaderNames.Date, HeaderNames.Via,
        HeaderNames.ProxyAuthorization, HeaderNames.IfMatch, HeaderNames.DNT, "X-Api-Key",
    ];

    private HeaderDictionary _requestHeaders = null!; // rented while a request is read and runs (RentHeaders)
    private readonly RequestBodyStream _requestBody;

    // The request being read.
    private string _method = HttpMethods.Get;
    private string _protocol = HttpProtocol.Http11;
    private string _rawTarget = "/";
    private string _path = "/";
    private string _query = string.Empty;
    private string _pathBase = string.Empty;
    private string _scheme = "http";
    private Stream? _requestBodyOverride;
    private IHeaderDictionary? _requestHeadersOverride;
    private bool _headStarted;
    private bool _targetInvalid;
    private string? _absoluteAuthority;
    private bool _connectionUpgrade;
    private int _headerIndex;

    // The previous request's strings, for reuse.
    private string _previousTarget = string.Empty;
    private string _previousPath = string.Empty;
    private string _previousQuery = string.Empty;
    private string?[] _previousHeaders = new string?[32];
    private string?[] _currentHeaders = new string?[32];

    // Body state of the current request.
    private Http1BodyFraming _framing;
    private long _bodyRemaining;
    private long _bodyRead;
    private int _chunkPending;
    private bool _bodyDone;
    private bool _expectContinue;
    private bool _continueSent;

    private void BeginRequestHead()
    {
        (_previousHeaders, _currentHeaders) = (_currentHeaders, _previousHeaders);
        Array.Clear(_currentHeaders);
        _headerIndex = 0;
        _connectionUpgrade = false;
        _targetInvalid = false;
        _absoluteAuthority = null;
    }

    // IHttpRequestFeature

    string IHttpRequestFeature.Protocol { get => _protocol; set => _protocol = value; }

    string IHttpRequestFeature.Scheme { get => _scheme; set => _scheme = value; }

    string IHttpRequestFeature.Method { get => _method; set => _method = value; }

    string IHttpRequestFeature.PathBase { get => _pathBase; set => _pathBase = value; }

    string IHttpRequestFeature.Path { get => _path; set => _path = value; }

    string IHttpRequestFeature.QueryString { get => _query; set => _query = value; }

    string IHttpRequestFeature.RawTarget { get => _rawTarget; set => _rawTarget = value; }

    IHeaderDictionary IHttpRequestFeature.Headers { get => _requestHeadersOverride ?? _requestHeaders; set => _requestHeadersOverride = value; }

    Stream IHttpRequestFeature.Body { get => _requestBodyOverride ?? _requestBody; set => _requestBodyOverride = value; }

    // IHttpRequestBodyDetectionFeature

    bool IHttpRequestBodyDetectionFeature.CanHaveBody => _framing == Http1BodyFraming.Chunked || (_framing == Http1BodyFraming.ContentLength && _bodyRemaining + _bodyRead > 0);

    private void OnRequestLine(Http1Method method, ReadOnlySpan<byte> methodName, ReadOnlySpan<byte> target, Http1TargetForm form, Http1Version version)
    {
        _method = method switch
        {
            Http1Method.Get => HttpMethods.Get,
            Http1Method.Head => HttpMethods.Head,
            Http1Method.Post => HttpMethods.Post,
            Http1Method.Put => HttpMethods.Put,
            Http1Method.Delete => HttpMethods.Delete,
            Http1Method.Options => HttpMethods.Options,
            Http1Method.Connect => HttpMethods.Connect,
            Http1Method.Patch => HttpMethods.Patch,
            Http1Method.Trace => HttpMethods.Trace,
            _ => Ascii.Equals(methodName, _method) ? _method : Encoding.ASCII.GetString(methodName),
        };
        _protocol = version == Http1Version.Http11 ? HttpProtocol.Http11 : HttpProtocol.Http10;
        _rawTarget = Reuse(target, _previousTarget);
        _previousTarget = _rawTarget;

        ReadOnlySpan<byte> pathAndQuery = target;
        if (form == Http1TargetForm.Absolute)
        {
            // scheme://authority[/path][?query]: Path and QueryString come from the path part, as Kestrel does.
            int authorityStart = target.IndexOf("://"u8) + 3;
            int pathStart = target[authorityStart..].IndexOfAny((byte)'/', (byte)'?');
            pathAndQuery = pathStart < 0 ? default : target[(authorityStart + pathStart)..];
            var authority = pathStart < 0 ? target[authorityStart..] : target.Slice(authorityStart, pathStart);
            int at = authority.LastIndexOf((byte)'@');
            _absoluteAuthority = Encoding.ASCII.GetString(at < 0 ? authority : authority[(at + 1)..]);
        }
        else if (form is Http1TargetForm.Authority or Http1TargetForm.Asterisk)
        {
            pathAndQuery = default;
        }

        int question = pathAndQuery.IndexOf((byte)'?');
        ReadOnlySpan<byte> path = question < 0 ? pathAndQuery : pathAndQuery[..question];
        ReadOnlySpan<byte> query = question < 0 ? default : pathAndQuery[question..];
        if (path.IsEmpty && form == Http1TargetForm.Absolute)
        {
            path = "/"u8;
        }

        if (path.IndexOf((byte)'%') < 0 && path.IndexOf("/."u8) < 0)
        {
            _path = Reuse(path, _previousPath);
        }
        else
        {
            string? decoded = RequestTarget.DecodePath(path);
            _targetInvalid = decoded is null;
            _path = decoded ?? string.Empty;
        }

        _previousPath = _path;
        _query = query.Length <= 1 ? string.Empty : Reuse(query, _previousQuery);
        _previousQuery = _query;
    }

    private void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        string nameString = known switch
        {
            Http1KnownHeader.Host => HeaderNames.Host,
            Http1KnownHeader.ContentLength => HeaderNames.ContentLength,
            Http1KnownHeader.TransferEncoding => HeaderNames.TransferEncoding,
            Http1KnownHeader.Connection => HeaderNames.Connection,
            Http1KnownHeader.Expect => HeaderNames.Expect,
            Http1KnownHeader.Upgrade => HeaderNames.Upgrade,
            _ => HeaderName(name),
        };
        if (known == Http1KnownHeader.Connection && !_connectionUpgrade)
        {
            _connectionUpgrade = ContainsToken(value, "upgrade"u8);
        }

        if (!Ascii.IsValid(value))
        {
            // As Kestrel (no Latin-1 option): header values are ASCII; obs-text is answered 400.
            _targetInvalid = true;
        }

        string valueString = HeaderValue(value);
        if (_requestHeaders.TryGetValue(nameString, out var existing))
        {
            _requestHeaders[nameString] = StringValues.Concat(existing, valueString);
        }
        else
        {
            _requestHeaders.Add(nameString, valueString);
        }
    }

    private string HeaderName(ReadOnlySpan<byte> name)
    {
        foreach (var common in CommonHeaderNames)
        {
            if (common.Length == name.Length && Ascii.EqualsIgnoreCase(name, common))
            {
                return common;
            }
        }

        int slot = _headerIndex * 2;
        string result = slot < _previousHeaders.Length && _previousHeaders[slot] is { } previous && Ascii.Equals(name, previous)
            ? previous
            : Encoding.ASCII.GetString(name);
        if (slot < _currentHeaders.Length)
        {
            _currentHeaders[slot] = result;
        }

        return result;
    }

    private string HeaderValue(ReadOnlySpan<byte> value)
    {
        int slot = _headerIndex * 2 + 1;
        string result = slot < _previousHeaders.Length && _previousHeaders[slot] is { } previous && Ascii.Equals(value, previous)
            ? previous
            : value.IsEmpty ? string.Empty : Encoding.ASCII.GetString(value);
        if (slot < _currentHeaders.Length)
        {
            _currentHeaders[slot] = result;
        }

        _headerIndex++;
        return result;
    }

    private static string Reuse(ReadOnlySpan<byte> bytes, string previous) =>
        bytes.IsEmpty ? string.Empty : Ascii.Equals(bytes, previous) ? previous : Encoding.ASCII.GetString(bytes);

    private static bool ContainsToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        while (!list.IsEmpty)
        {
            int comma = list.IndexOf((byte)',');
            var item = (comma < 0 ? list : list[..comma]).Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(item, token))
            {
                return true;
            }

            list = comma < 0 ? default : list[(comma + 1)..];
        }

        return false;
    }

    /// <summary>The head is complete: set up the body of this request.</summary>
    private void BeginRequestBody()
    {
        ref readonly var info = ref _parser.Request;
        _requestBodyOverride = null;
        _requestHeadersOverride = null;
        _pathBase = string.Empty;
        _scheme = "http";
        _bodyRead = 0;
        _chunkPending = 0;
        _continueSent = false;
        _upgradeRequest = _connectionUpgrade && info.HasUpgrade && info.Method != Http1Method.Connect && info.Version == Http1Version.Http11;
        if (_absoluteAuthority is not null)
        {
            // RFC 9112 §3.2.2: with an absolute-form target the Host field is ignored; the target's authority is the host.
            _requestHeaders[HeaderNames.Host] = _absoluteAuthority;
        }

        _framing = info.Framing;
        _bodyRemaining = info.Framing == Http1BodyFraming.ContentLength ? info.ContentLength : 0;
        _bodyDone = info.Framing == Http1BodyFraming.None || (_framing == Http1BodyFraming.ContentLength && _bodyRemaining == 0);
        _expectContinue = info.ExpectContinue && !_bodyDone;
        if (info.Framing == Http1BodyFraming.Chunked)
        {
            _chunked.Reset();
        }
    }

    /// <summary>Reads request body bytes into <paramref name="destination"/>; 0 at the end of the body.</summary>
    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_bodyDone || destination.IsEmpty)
        {
            return 0;
        }

        if (_expectContinue && !_continueSent)
        {
            _continueSent = true;
            if (!_responseStarted)
            {
                WriteBytes(ResponseHeadBytes.Continue);
                await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                throw new OperationCanceledException("The read of the request body was cancelled.");
            }

            if (_framing == Http1BodyFraming.ContentLength || _chunkPending > 0)
            {
                if (buffer.IsEmpty)
                {
                    _input.AdvanceTo(buffer.End);
                    throw BodyError("Unexpected end of request content.", StatusCodes.Status400BadRequest);
                }

                long available = _framing == Http1BodyFraming.ContentLength ? _bodyRemaining : _chunkPending;
                int n = (int)Math.Min(Math.Min(available, destination.Length), buffer.Length);
                var slice = buffer.Slice(0, n);
                slice.CopyTo(destination.Span);
                _input.AdvanceTo(slice.End);
                _bodyRead += n;
                if (_framing == Http1BodyFraming.ContentLength)
                {
                    _bodyRemaining -= n;
                    if (_bodyRemaining == 0)
                    {
                        _bodyDone = true;
                        StartDisconnectMonitor();
                    }
                }
                else
                {
                    _chunkPending -= n;
                }

                return n;
            }

            var status = _chunked.Decode(buffer, out var consumed, out var examined, out var data);
            switch (status)
            {
                case ChunkedStatus.Data:
                {
                    if (_maxRequestBodySize is { } max && _chunked.BodyLength > max)
                    {
                        _input.AdvanceTo(consumed);
                        throw BodyError("Request body too large.", StatusCodes.Status413PayloadTooLarge);
                    }

                    int n = (int)Math.Min(data.Length, destination.Length);
                    var slice = data.Slice(0, n);
                    slice.CopyTo(destination.Span);
                    _chunkPending = (int)(data.Length - n);
                    _input.AdvanceTo(slice.End);
                    _bodyRead += n;
                    return n;
                }

                case ChunkedStatus.Complete:
                    _input.AdvanceTo(consumed);
                    _bodyDone = true;
                    StartDisconnectMonitor();
                    return 0;

                case ChunkedStatus.Error:
                    _input.AdvanceTo(consumed);
                    throw BodyError(Http1ErrorText.Describe(_chunked.Error.Error), _chunked.Error.StatusCode);

                default:
                    _input.AdvanceTo(consumed, examined);
                    if (result.IsCompleted)
                    {
                        throw BodyError("Unexpected end of request content.", StatusCodes.Status400BadRequest);
                    }

                    break;
            }
        }
    }

    private BadHttpRequestException BodyError(string message, int status)
    {
        // The rest of the stream cannot be trusted: no further request on this connection.
        _keepAlive = false;
        _bodyDone = true;
        _bodyFailed = true;
        return new BadHttpRequestException(message, status);
    }

    /// <summary>Receives the parser's callbacks (a struct: the generic parse is specialised, nothing boxed).</summary>
    private readonly struct HeadHandler(RawConnection connection) : IHttp1RequestHandler
    {
        public void OnRequestLine(Http1Method method, ReadOnlySpan<byte> methodName, ReadOnlySpan<byte> target, Http1TargetForm form, Http1Version version) =>
            connection.OnRequestLine(method, methodName, target, form, version);

        public void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            connection.OnHeader(known, name, value);
    }

    /// <summary>The request body as the app sees it: reads go to the connection's buffer, framed by Content-Length or chunked.</summary>
    private sealed class RequestBodyStream(RawConnection connection) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            connection.ReadBodyAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            connection.ReadBodyAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) =>
            throw new InvalidOperationException("Synchronous operations are disallowed. Call ReadAsync or set AllowSynchronousIO to true instead.");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
