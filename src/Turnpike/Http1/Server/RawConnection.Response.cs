using System.Runtime.CompilerServices;
using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Turnpike.Http1.Server;

/// <summary>
/// Response side: the head is serialized straight into the connection's output pipe when the response starts (first
/// write, flush, StartAsync or the end of the request), the body is framed by the app's Content-Length, else chunked
/// (close-delimited for HTTP/1.0), nothing for HEAD/204/304; a small response goes out in one send at the end.
/// </summary>
internal sealed partial class RawConnection : IHttpResponseFeature, IHttpResponseBodyFeature, IHttpUpgradeFeature, IDeferredResponseHeaders
{
    private enum ResponseFraming : byte
    {
        None,
        ContentLength,
        Chunked,
        CloseDelimited,
    }

    private HeaderDictionary _responseHeaders = null!; // rented while a request is read and runs (RentHeaders)
    private readonly ResponseBodyStream _responseBody;
    private IHeaderDictionary? _responseHeadersOverride;
    private Stream? _responseBodyOverride;
    private PipeWriter? _responseWriter;
    private int _statusCode;
    private string? _reasonPhrase;
    private bool _responseStarted;
    private bool _responseCompleted;
    private ResponseFraming _responseFraming;
    private long _responseRemaining;
    private bool _keepAlive;
    private bool _bodyFailed;
    private bool _upgradeRequest;
    private bool _upgraded;
    private readonly List<(Func<object, Task> Callback, object State)> _onStarting = [];
    private readonly List<(Func<object, Task> Callback, object State)> _onCompleted = [];

    // Upstream fields taken by IDeferredResponseHeaders: while _deferredCount > 0 the own dictionary is empty and
    // they are its content (put there on the first access through the feature).
    private string[] _deferredNames = new string[16];
    private string[] _deferredValues = new string[16];
    private byte[]?[] _deferredLines = new byte[]?[16]; // a field's head line when the upstream client had it encoded, else null
    private int _deferredCount;

    // IHttpResponseFeature

    int IHttpResponseFeature.StatusCode
    {
        get => _statusCode;
        set
        {
            if (_responseStarted)
            {
                throw new InvalidOperationException("StatusCode cannot be set because the response has already started.");
            }

            _statusCode = value;
        }
    }

    string? IHttpResponseFeature.ReasonPhrase
    {
        get => _reasonPhrase;
        set
        {
            if (_responseStarted)
            {
                throw new InvalidOperationException("ReasonPhrase cannot be set because the response has already started.");
            }

            _reasonPhrase = value;
        }
    }

    IHeaderDictionary IHttpResponseFeature.Headers
    {
        get
        {
            if (_deferredCount != 0)
            {
                MaterializeDeferred();
            }

            return _responseHeadersOverride ?? _responseHeaders;
        }

        set
        {
            if (_deferredCount != 0)
            {
                MaterializeDeferred();
            }

            _responseHeadersOverride = value;
        }
    }

    // IDeferredResponseHeaders

    bool IDeferredResponseHeaders.BeginDeferred() =>
        !_responseStarted && _deferredCount == 0 && _responseHeadersOverride is null && _responseHeaders.Count == 0 && !HasExtraFeature<IHttpResponseFeature>();

    void IDeferredResponseHeaders.Defer(string name, string value, byte[]? line)
    {
        var i = _deferredCount;
        if (i == _deferredNames.Length)
        {
            Array.Resize(ref _deferredNames, i * 2);
            Array.Resize(ref _deferredValues, i * 2);
            Array.Resize(ref _deferredLines, i * 2);
        }

        _deferredNames[i] = name;
        _deferredValues[i] = value;
        _deferredLines[i] = line;
        _deferredCount = i + 1;
    }

    /// <summary>Something reads or replaces the headers: the deferred fields become the own dictionary's content.</summary>
    private void MaterializeDeferred()
    {
        var count = _deferredCount;
        _deferredCount = 0;
        for (var i = 0; i < count; i++)
        {
            _responseHeaders[_deferredNames[i]] = _deferredValues[i];
        }
    }

    [Obsolete("Use IHttpResponseBodyFeature.Stream")]
    Stream IHttpResponseFeature.Body { get => _responseBodyOverride ?? _responseBody; set => _responseBodyOverride = value; }

    bool IHttpResponseFeature.HasStarted => _responseStarted;

    void IHttpResponseFeature.OnStarting(Func<object, Task> callback, object state)
    {
        if (_responseStarted)
        {
            throw new InvalidOperationException("OnStarting cannot be set because the response has already started.");
        }

        _onStarting.Add((callback, state));
    }

    void IHttpResponseFeature.OnCompleted(Func<object, Task> callback, object state) => _onCompleted.Add((callback, state));

    // IHttpResponseBodyFeature

    Stream IHttpResponseBodyFeature.Stream => _responseBody;

    PipeWriter IHttpResponseBodyFeature.Writer => _responseWriter ??= PipeWriter.Create(_responseBody, new StreamPipeWriterOptions(leaveOpen: true));

    void IHttpResponseBodyFeature.DisableBuffering()
    {
    }

    Task IHttpResponseBodyFeature.StartAsync(CancellationToken cancellationToken) => StartResponseAsync().AsTask();

    async Task IHttpResponseBodyFeature.SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, useAsync: true);
        file.Seek(offset, SeekOrigin.Begin);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long left = count ?? long.MaxValue;
            while (left > 0)
            {
                int n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await WriteBodyAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    Task IHttpResponseBodyFeature.CompleteAsync() => CompleteResponseAsync().AsTask();

    // IHttpUpgradeFeature

    bool IHttpUpgradeFeature.IsUpgradableRequest => _upgradeRequest;

    async Task<Stream> IHttpUpgradeFeature.UpgradeAsync()
    {
        if (!_upgradeRequest)
        {
            throw new InvalidOperationException("Cannot upgrade a non-upgradable request.");
        }

        if (_responseStarted)
        {
            throw new InvalidOperationException("Cannot upgrade when the response has already started.");
        }

        _statusCode = StatusCodes.Status101SwitchingProtocols;
        _reasonPhrase = null;
        _upgraded = true;
        _keepAlive = false;
        await StartResponseAsync().ConfigureAwait(false);
        await FlushOutputAsync(default).ConfigureAwait(false);
        return new UpgradedStream(this);
    }

    /// <summary>
    /// Before a parsed request runs: the response and per-request state start fresh. False: the target was invalid
    /// (answer 400 and close). The request itself runs in <see cref="RunAsync"/> (no async method of its own).
    /// </summary>
    private bool BeginRequest()
    {
        _requestCount++;
        BeginRequestBody();
        _statusCode = StatusCodes.Status200OK;
        _reasonPhrase = null;
        _responseStarted = false;
        _responseCompleted = false;
        _responseFraming = ResponseFraming.None;
        _responseHeaders.Clear();
        _deferredCount = 0;
        _responseHeadersOverride = null;
        _responseBodyOverride = null;
        _responseWriter = null;
        _upgraded = false;
        _bodyFailed = false;
        _keepAlive = _parser.Request.KeepAlive && !_listener.IsStopping;
        ResetFeatures();
        return !_targetInvalid;
    }

    private async ValueTask OnApplicationErrorAsync(Exception ex)
    {
        if (ex is BadHttpRequestException bad && _bodyFailed)
        {
            // The client's body was malformed or too large: answer its status (as Kestrel), not 500.
            _keepAlive = false;
            if (!_responseStarted)
            {
                ResetResponseFor(bad.StatusCode);
            }
            else
            {
                Abort();
            }

            return;
        }

        if (Volatile.Read(ref _closed) == 1)
        {
            return;
        }

        if (ex is OperationCanceledException or IOException && (_clientClosed || _abortSource?.IsCancellationRequested == true))
        {
            // The request was aborted (the client went away) and the app gave up: as Kestrel, a debug line, no 500.
            LogRequestAborted(_options.Logger, _options.Name, _connectionId, ((IHttpRequestIdentifierFeature)this).TraceIdentifier);
            _keepAlive = false;
            Abort();
            return;
        }

        LogApplicationError(_options.Logger, _options.Name, _connectionId, ((IHttpRequestIdentifierFeature)this).TraceIdentifier, ex);
        if (_responseStarted)
        {
            Abort();
            return;
        }

        ResetResponseFor(StatusCodes.Status500InternalServerError);
        await ValueTask.CompletedTask.ConfigureAwait(false);
    }

    private void ResetResponseFor(int status)
    {
        _statusCode = status;
        _reasonPhrase = null;
        _responseHeaders.Clear();
        _deferredCount = 0;
        _responseHeadersOverride = null;
        _onStarting.Clear();
        _responseHeaders.ContentLength = 0;
    }

    /// <summary>
    /// Ends the response: head if not sent yet, the last chunk, the final flush. Without OnStarting callbacks this
    /// runs without an async state machine, and returns completed when the socket took everything at once.
    /// </summary>
    private ValueTask CompleteResponseAsync()
    {
        if (_responseCompleted)
        {
            return ValueTask.CompletedTask;
        }

        if (!_responseStarted)
        {
            if (_onStarting.Count != 0)
            {
                return CompleteResponseSlowAsync();
            }

            if (StartResponseNow(appCompleted: true) is { } failure)
            {
                return ValueTask.FromException(failure);
            }
        }

        _responseCompleted = true;
        if (_upgraded)
        {
            return ValueTask.CompletedTask;
        }

        if (_responseFraming == ResponseFraming.Chunked)
        {
            WriteBytes("0\r\n\r\n"u8);
        }
        else if (_responseFraming == ResponseFraming.ContentLength && _responseRemaining > 0)
        {
            // Fewer bytes than the Content-Length announced: the client would wait for the rest. Cut the connection.
            _keepAlive = false;
            return FlushThenAbortAsync();
        }

        return _output.UnflushedBytes > 0 ? FlushOutputAsync(default) : ValueTask.CompletedTask;
    }

    /// <summary>Writes the head now (no OnStarting callbacks left). Null, or what writing it threw.</summary>
    private Exception? StartResponseNow(bool appCompleted)
    {
        _responseStarted = true;
        try
        {
            WriteHead(appCompleted);
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask CompleteResponseSlowAsync()
    {
        if (_responseCompleted)
        {
            return;
        }

        if (!_responseStarted)
        {
            await StartResponseAsync(appCompleted: true).ConfigureAwait(false);
        }

        _responseCompleted = true;
        if (_upgraded)
        {
            return;
        }

        if (_responseFraming == ResponseFraming.Chunked)
        {
            WriteBytes("0\r\n\r\n"u8);
        }
        else if (_responseFraming == ResponseFraming.ContentLength && _responseRemaining > 0)
        {
            // Fewer bytes than the Content-Length announced: the client would wait for the rest. Cut the connection.
            _keepAlive = false;
            await FlushOutputAsync(default).ConfigureAwait(false);
            Abort();
            return;
        }

        if (_output.UnflushedBytes > 0)
        {
            await FlushOutputAsync(default).ConfigureAwait(false);
        }
    }

    private async ValueTask FlushThenAbortAsync()
    {
        await FlushOutputAsync(default).ConfigureAwait(false);
        Abort();
    }

    private ValueTask StartResponseAsync() => StartResponseAsync(appCompleted: false);

    private ValueTask StartResponseAsync(bool appCompleted)
    {
        if (_responseStarted)
        {
            return ValueTask.CompletedTask;
        }

        if (_onStarting.Count != 0)
        {
            return StartResponseSlowAsync(appCompleted);
        }

        return StartResponseNow(appCompleted) is { } failure ? ValueTask.FromException(failure) : ValueTask.CompletedTask;
    }

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask StartResponseSlowAsync(bool appCompleted)
    {
        if (_responseStarted)
        {
            return;
        }

        // OnStarting callbacks run in reverse order of registration, as in Kestrel.
        for (int i = _onStarting.Count - 1; i >= 0; i--)
        {
            var (callback, state) = _onStarting[i];
            await callback(state).ConfigureAwait(false);
        }

        _onStarting.Clear();
        _responseStarted = true;
        WriteHead(appCompleted);
    }

    private void WriteHead(bool appCompleted)
    {
        var headers = _responseHeadersOverride ?? _responseHeaders;
        int status = _statusCode;
        var statusLine = _reasonPhrase is null ? ResponseHeadBytes.StatusLine(status) : null;
        if (statusLine is not null)
        {
            WriteBytes(statusLine);
        }
        else
        {
            WriteAscii($"HTTP/1.1 {status} {_reasonPhrase ?? string.Empty}\r\n");
        }

        bool bodyAllowed = status >= 200 && status != 204 && status != 304 && !ReferenceEquals(_method, HttpMethods.Head) && !HttpMethods.IsHead(_method);
        var deferred = _deferredCount; // > 0: the fields are these, and the own dictionary (= headers) is empty
        FramingFields fields = default;
        if (deferred != 0)
        {
            for (var i = 0; i < deferred; i++)
            {
                fields.Scan(_deferredNames[i], _deferredValues[i]);
            }
        }
        else if (headers is HeaderDictionary { Count: <= 16 } few)
        {
            // One pass over the few fields by name length and ordinal-ignore-case comparison instead of four hashed
            // lookups (Transfer-Encoding, Content-Length, Connection, Date).
            fields.Scan(few);
        }
        else
        {
            fields.HasTransferEncoding = headers.TryGetValue(HeaderNames.TransferEncoding, out fields.TransferEncoding);
            fields.ContentLength = headers.ContentLength;
            headers.TryGetValue(HeaderNames.Connection, out fields.Connection);
            fields.HasDate = headers.ContainsKey(HeaderNames.Date);
        }

        var connection = fields.Connection;

        if ((connection.Count > 0 && ContainsClose(connection)) || _listener.IsStopping)
        {
            // The app asked to close, or the listener is draining: this is the connection's last response.
            _keepAlive = false;
        }

        if (_upgraded)
        {
            _responseFraming = ResponseFraming.None;
        }
        else if (!bodyAllowed)
        {
            _responseFraming = ResponseFraming.None;
            if (status >= 200 && status != 204 && status != 304 && fields.ContentLength is null && !fields.HasTransferEncoding && appCompleted)
            {
                // HEAD answered by the app itself, with no length: as Kestrel, Content-Length: 0.
                WriteBytes("Content-Length: 0\r\n"u8);
            }
        }
        else if (fields.HasTransferEncoding)
        {
            _responseFraming = EndsWithChunked(fields.TransferEncoding) ? ResponseFraming.Chunked : ResponseFraming.CloseDelimited;
        }
        else if (fields.ContentLength is { } length)
        {
            _responseFraming = ResponseFraming.ContentLength;
            _responseRemaining = length;
        }
        else if (appCompleted)
        {
            _responseFraming = ResponseFraming.ContentLength;
            _responseRemaining = 0;
            WriteBytes("Content-Length: 0\r\n"u8);
        }
        else if (ReferenceEquals(_protocol, HttpProtocol.Http11))
        {
            _responseFraming = ResponseFraming.Chunked;
            WriteBytes("Transfer-Encoding: chunked\r\n"u8);
        }
        else
        {
            _responseFraming = ResponseFraming.CloseDelimited;
        }

        if (_responseFraming == ResponseFraming.CloseDelimited)
        {
            _keepAlive = false;
        }

        if (!_keepAlive && !_upgraded && connection.Count == 0)
        {
            WriteBytes("Connection: close\r\n"u8);
        }
        else if (_keepAlive && ReferenceEquals(_protocol, HttpProtocol.Http10) && connection.Count == 0)
        {
            WriteBytes("Connection: keep-alive\r\n"u8);
        }

        if (!fields.HasDate)
        {
            WriteBytes(ResponseHeadBytes.DateLine);
        }

        for (var i = 0; i < deferred; i++)
        {
            if (_deferredLines[i] is { } line)
            {
                WriteBytes(line);
            }
            else
            {
                WriteHeaderLine(_deferredNames[i], _deferredValues[i], valid: true);
            }
        }

        if (headers is HeaderDictionary own)
        {
            // The struct enumerator: no boxing.
            foreach (var header in own)
            {
                WriteHeader(header.Key, header.Value);
            }
        }
        else
        {
            foreach (var header in headers)
            {
                WriteHeader(header.Key, header.Value);
            }
        }

        WriteBytes("\r\n"u8);
    }

    private void WriteHeader(string name, StringValues values)
    {
        foreach (var value in values)
        {
            if (value is not null)
            {
                WriteHeaderLine(name, value);
            }
        }
    }

    /// <param name="valid">The name is a token and the value field-value syntax already (a deferred upstream field,
    /// checked by the upstream's parser): no check for CR, LF, NUL or wide characters.</param>
    private void WriteHeaderLine(string name, string value, bool valid = false)
    {
        if (!valid)
        {
            CheckLatin1(name);
            CheckLatin1(value);
        }

        var span = _output.GetSpan(name.Length + value.Length + 4);
        _output.Advance(Http1Syntax.WriteFieldLine(name, value, span));
    }

    /// <summary>
    /// What a response field may hold: Latin-1 without CR, LF and NUL. One non-generic scan: the generic
    /// <c>IndexOfAnyExceptInRange&lt;char&gt;</c> used before boxed its two bounds in code the JIT had not optimized yet
    /// (192 B per request in RawListenerAllocationTests when it ran after the parser fuzz tests).
    /// </summary>
    private static readonly System.Buffers.SearchValues<char> HeaderAllowed = System.Buffers.SearchValues.Create(AllowedHeaderChars());

    private static string AllowedHeaderChars()
    {
        var chars = new char[255 - 2];
        int n = 0;
        for (int c = 1; c <= 0xFF; c++)
        {
            if (c is not ('\r' or '\n'))
            {
                chars[n++] = (char)c;
            }
        }

        return new string(chars);
    }

    private static void CheckLatin1(string text)
    {
        int at = text.AsSpan().IndexOfAnyExcept(HeaderAllowed);
        if (at >= 0)
        {
            throw new InvalidOperationException($"Invalid control or non-Latin-1 character 0x{(int)text[at]:X4} in a response header.");
        }
    }

    /// <summary>What <see cref="WriteHead"/> needs from the response fields, found in one pass (as the hashed lookups
    /// and <see cref="HeaderDictionary.ContentLength"/> would find them).</summary>
    private struct FramingFields
    {
        public bool HasTransferEncoding;
        public StringValues TransferEncoding;
        public long? ContentLength;
        public StringValues Connection;
        public bool HasDate;

        public void Scan(HeaderDictionary headers)
        {
            foreach (var header in headers)
            {
                Scan(header.Key, header.Value);
            }
        }

        public void Scan(string name, StringValues value)
        {
            switch (name.Length)
            {
                case 4 when name.Equals(HeaderNames.Date, StringComparison.OrdinalIgnoreCase):
                    HasDate = true;
                    break;
                case 10 when name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase):
                    Connection = value;
                    break;
                case 14 when name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase):
                    ContentLength = value.Count == 1 && !string.IsNullOrEmpty(value[0]) && HeaderUtilities.TryParseNonNegativeInt64(new StringSegment(value[0]).Trim(), out var length) ? length : null;
                    break;
                case 17 when name.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase):
                    HasTransferEncoding = true;
                    TransferEncoding = value;
                    break;
            }
        }
    }

    private void WriteAscii(string text)
    {
        var span = _output.GetSpan(text.Length);
        int n = Encoding.ASCII.GetBytes(text, span);
        _output.Advance(n);
    }

    private static bool ContainsClose(StringValues values)
    {
        foreach (var value in values)
        {
            if (value is not null && ContainsToken(Encoding.ASCII.GetBytes(value), "close"u8))
            {
                return true;
            }
        }

        return false;
    }

    private static bool EndsWithChunked(StringValues values)
    {
        var last = values.Count == 0 ? null : values[values.Count - 1];
        if (last is null)
        {
            return false;
        }

        int comma = last.LastIndexOf(',');
        return (comma < 0 ? last : last[(comma + 1)..]).Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Writes response body bytes, framed, and flushes them.</summary>
    private ValueTask WriteBodyAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (!_responseStarted)
        {
            if (_onStarting.Count != 0)
            {
                return StartThenWriteAsync(data, cancellationToken);
            }

            if (StartResponseNow(appCompleted: false) is { } failure)
            {
                return ValueTask.FromException(failure);
            }
        }

        if (Volatile.Read(ref _closed) == 1 || _responseFraming == ResponseFraming.None || data.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        if (_responseCompleted)
        {
            throw new InvalidOperationException("The response has completed; no more body can be written.");
        }

        switch (_responseFraming)
        {
            case ResponseFraming.ContentLength:
                if (data.Length > _responseRemaining)
                {
                    throw new InvalidOperationException($"Response Content-Length mismatch: too many bytes written ({data.Length} more than the {_responseRemaining} left).");
                }

                _responseRemaining -= data.Length;

                // Write-through, as Kestrel's response body: what the app wrote reaches the client now (one send with
                // the head when it is still buffered; a large piece straight from the app's memory).
                return CompleteFlush(_output.WriteAsync(data, cancellationToken));
            case ResponseFraming.CloseDelimited:
                return CompleteFlush(_output.WriteAsync(data, cancellationToken));
            case ResponseFraming.Chunked:
            {
                var span = _output.GetSpan(10);
                Utf8Formatter.TryFormat(data.Length, span, out int n, new StandardFormat('X'));
                span[n++] = (byte)'\r';
                span[n++] = (byte)'\n';
                _output.Advance(n);
                WriteBytes(data.Span);
                WriteBytes("\r\n"u8);
                break;
            }

            default:
                WriteBytes(data.Span);
                break;
        }

        // Write-through, as Kestrel's response body: what the app wrote reaches the client now, so a streamed answer
        // (server-sent events, a slow upstream relayed piece by piece) is not held back. The head goes out with the
        // first body bytes, so a small answer is still one send.
        return FlushOutputAsync(cancellationToken);
    }

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask StartThenWriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await StartResponseAsync().ConfigureAwait(false);
        await WriteBodyAsync(data, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask FlushOutputAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _closed) == 1)
        {
            return ValueTask.CompletedTask;
        }

        return CompleteFlush(_output.FlushAsync(cancellationToken));
    }

    private ValueTask CompleteFlush(ValueTask<FlushResult> flush) =>
        flush.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitFlushAsync(flush);

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        try
        {
            await flush.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or ConnectionAbortedException)
        {
            // The client is gone: abort the request (RequestAborted fires); later writes are dropped.
            Abort();
        }
    }

    private ValueTask RunOnCompletedAsync() => _onCompleted.Count == 0 ? ValueTask.CompletedTask : RunOnCompletedSlowAsync();

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask RunOnCompletedSlowAsync()
    {
        for (int i = _onCompleted.Count - 1; i >= 0; i--)
        {
            var (callback, state) = _onCompleted[i];
            try
            {
                await callback(state).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogApplicationError(_options.Logger, _options.Name, _connectionId, ((IHttpRequestIdentifierFeature)this).TraceIdentifier, ex);
            }
        }

        _onCompleted.Clear();
    }

    /// <summary>After the response: read and drop what the app left of the request body, so the next request can be parsed.</summary>
    private ValueTask<bool> DrainRequestBodyAsync() => _bodyDone ? new ValueTask<bool>(!_bodyFailed) : DrainRequestBodySlowAsync();

    private async ValueTask<bool> DrainRequestBodySlowAsync()
    {
        if (_expectContinue && !_continueSent)
        {
            // The client was never told to send the body; it may or may not send it. Do not guess.
            return false;
        }

        if (_framing == Http1BodyFraming.ContentLength && _bodyRemaining > _options.MaxDrainBytes)
        {
            return false;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        SetDeadline(_listener.RequestHeadersTicks);
        try
        {
            long drained = 0;
            _reading = true;
            while (!_bodyDone)
            {
                int n = await ReadBodyAsync(scratch, default).ConfigureAwait(false);
                drained += n;
                if (drained > _options.MaxDrainBytes)
                {
                    return false;
                }
            }

            return !_bodyFailed;
        }
        catch (Exception ex) when (ex is BadHttpRequestException or OperationCanceledException or IOException or SocketException)
        {
            return false;
        }
        finally
        {
            _reading = false;
            Volatile.Write(ref _deadline, 0);
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>The response body as the app sees it.</summary>
    private sealed class ResponseBodyStream(RawConnection connection) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            connection.WriteBodyAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            connection.WriteBodyAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) =>
            throw new InvalidOperationException("Synchronous operations are disallowed. Call WriteAsync or set AllowSynchronousIO to true instead.");

        public override Task FlushAsync(CancellationToken cancellationToken) => FlushCoreAsync(cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private async ValueTask FlushCoreAsync(CancellationToken cancellationToken)
        {
            await connection.StartResponseAsync().ConfigureAwait(false);
            await connection.FlushOutputAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The connection after a 101: raw bytes both ways (WebSockets proxied by YARP).</summary>
    private sealed class UpgradedStream(RawConnection connection) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var input = connection._input;
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                var data = result.Buffer;
                if (!data.IsEmpty)
                {
                    int n = (int)Math.Min(data.Length, buffer.Length);
                    var slice = data.Slice(0, n);
                    slice.CopyTo(buffer.Span);
                    input.AdvanceTo(slice.End);
                    return n;
                }

                input.AdvanceTo(data.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return 0;
                }
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Volatile.Read(ref connection._closed) == 1)
            {
                throw new IOException("The connection was closed.");
            }

            await connection._output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => connection._output.FlushAsync(cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                connection.Abort();
            }

            base.Dispose(disposing);
        }
    }
}
