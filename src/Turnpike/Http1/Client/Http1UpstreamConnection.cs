using System.Buffers;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Turnpike.Sockets;

namespace Turnpike.Http1.Client;

/// <summary>
/// One keep-alive HTTP/1.1 connection to an upstream: the socket, pooled read and write buffers, the strict
/// <see cref="Http1ResponseParser"/> and <see cref="ChunkedDecoder"/>, and the request and response messages the route's
/// transformer works on, reused from one exchange to the next (headers cleared, header value strings reused when the
/// upstream sends the same bytes again). Used by one request at a time.
/// <para>
/// Memory: the buffers are rented when an exchange first needs them, kept while the connection is in use, and go back to
/// <see cref="ArrayPool{T}.Shared"/> once it has been idle for a second (<see cref="ReleaseBuffers"/>, from the pool's
/// sweep), so a pool of idle keep-alive connections holds no buffers. The read buffer starts at <see cref="InitialReadBufferSize"/> (a small response's head and body fit) and the connection
/// switches to <see cref="ReadBufferSize"/> for good once a receive fills it (large responses stream in bigger reads).
/// bench/results/NOTES-20261130-memory.md has the measurements.
/// </para>
/// </summary>
internal sealed class Http1UpstreamConnection
{
    internal const int InitialReadBufferSize = 4 * 1024;
    internal const int ReadBufferSize = 16 * 1024;
    internal const int WriteBufferSize = 4 * 1024;

    private readonly Http1DestinationPool _pool;
    private Socket? _socket;
    private EpollChannel? _channel;
    private byte[] _read = [];
    private byte[] _write = [];
    private int _readSize = InitialReadBufferSize;
    private int _writeLength;
    private int _readStart;
    private int _readEnd;
    private int _disposed;
    private ResponseHeaderName?[] _names = new ResponseHeaderName?[16]; // this response's fields: the destination's shared strings
    private string?[] _values = new string?[16];
    private int _headerIndex;
    private Http1Version _responseVersion;
    private int _responseStatus;
    private bool _responseFilled; // Response and ResponseContent hold the last head (FillResponseMessage)
    private CancellationTokenSource _activity = new();
    private readonly EpollThread? _thread; // the engine thread to connect on (the client connection's), or null

    public Http1UpstreamConnection(Http1DestinationPool pool, EpollThread? thread = null)
    {
        _pool = pool;
        _thread = thread;
        Parser = new Http1ResponseParser(pool.Cluster.Limits);
        Chunked = new ChunkedDecoder(pool.Cluster.Limits, requestSide: false);
        CreatedAt = pool.Cluster.Time.GetTimestamp();
        RequestContent = new HeaderOnlyContent();
        ResponseContent = new HeaderOnlyContent();
        Response = new HttpResponseMessage { Content = ResponseContent };
    }

    public Http1DestinationPool Pool => _pool;

    /// <summary>The epoll engine thread its socket is registered with; null before the connect or on .NET's socket engine.</summary>
    public EpollThread? EngineThread => _channel?.Socket.Thread;

    public bool IsConnected => _socket is not null;

    public long CreatedAt { get; }

    /// <summary>Timestamp when the connection went back to the pool; 0 while new.</summary>
    public long IdleSince { get; set; }

    /// <summary>Number of exchanges completed on this connection.</summary>
    public int Exchanges { get; set; }

    public Http1ResponseParser Parser { get; }

    public ChunkedDecoder Chunked { get; }

    /// <summary>The request the transformer fills; reset by <see cref="PrepareRequest"/>.</summary>
    public HttpRequestMessage Request { get; private set; } = new();

    public HeaderOnlyContent RequestContent { get; }

    public HttpResponseMessage Response { get; }

    public HeaderOnlyContent ResponseContent { get; }

    /// <summary>Cancelled by the attempt's token, the client aborting, or the activity timeout.</summary>
    public CancellationToken ActivityToken => _activity.Token;

    public CancellationTokenSource Activity => _activity;

    /// <summary>
    /// When the running exchange's activity timeout expires (a <see cref="TimeProvider"/> timestamp); 0 while no
    /// exchange runs, <see cref="ActivityFired"/> once the pool's activity sweep has cancelled <see cref="Activity"/>
    /// for it. A field the sweep reads instead of a timer armed per exchange (timer queue work and its lock per request).
    /// </summary>
    private long _activityDeadline;

    private const long ActivityFired = -1;

    /// <summary>Starts (or restarts, after a body read) the activity timeout of the running exchange from <paramref name="now"/>.</summary>
    public void ArmActivity(long now)
    {
        var timeout = _pool.Cluster.ActivityTimeoutTicks;
        var deadline = timeout == long.MaxValue ? long.MaxValue : now + timeout;
        var current = Volatile.Read(ref _activityDeadline);
        if (current != ActivityFired)
        {
            // Only the sweep changes a non-zero deadline besides this exchange: a lost race means it fired, and it stays fired.
            Interlocked.CompareExchange(ref _activityDeadline, deadline, current);
        }
    }

    /// <summary>Ends the exchange's activity timeout; false when it fired or <see cref="Activity"/> was cancelled (the connection must not be reused).</summary>
    public bool DisarmActivity() =>
        Interlocked.Exchange(ref _activityDeadline, 0) != ActivityFired && !_activity.IsCancellationRequested;

    /// <summary>The activity sweep: cancels the exchange when its deadline passed at <paramref name="now"/>.</summary>
    internal void CheckActivity(long now)
    {
        var deadline = Volatile.Read(ref _activityDeadline);
        if (deadline > 0 && now >= deadline && Interlocked.CompareExchange(ref _activityDeadline, ActivityFired, deadline) == deadline)
        {
            try
            {
                _activity.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Closed meanwhile.
            }
        }
    }

    public ReadOnlySpan<byte> Buffered => _read.AsSpan(_readStart, _readEnd - _readStart);

    public int BufferedCount => _readEnd - _readStart;

    public ReadOnlyMemory<byte> BufferedMemory => _read.AsMemory(_readStart, _readEnd - _readStart);

    public async ValueTask ConnectAsync(CancellationToken cancellationToken)
    {
        var connectTimeout = _pool.Cluster.Http.ConnectTimeout;
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connect.CancelAfter(connectTimeout);
        Stream stream;
        try
        {
            if (SocketEngine.UseEpoll)
            {
                // On the epoll engine: on the client connection's engine thread when there is one, else the calling one.
                _channel = await _pool.Cluster.Connector.ConnectEpollAsync(_pool.Host, _pool.Port, _thread, connect.Token).ConfigureAwait(false);
                _socket = _channel.Socket.Socket;
                return;
            }

            stream = await _pool.Cluster.Connector.ConnectAsync(_pool.Host, _pool.Port, connect.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // As SocketsHttpHandler reports its ConnectTimeout: a cancellation wrapping a TimeoutException.
            throw new TaskCanceledException($"The connection to {_pool.Address} was not established within {connectTimeout.TotalSeconds}s.", new TimeoutException(ex.Message, ex));
        }

        _socket = ((NetworkStream)stream).Socket;
    }

    /// <summary>True when an idle connection has something to read: the upstream closed it (EOF) or sent bytes nobody asked for.</summary>
    public bool LooksClosed()
    {
        try
        {
            return _socket is null || _socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Clears the request and response messages for a new exchange; a fresh activity source if the last one fired.</summary>
    public void PrepareRequest(HttpMethod method, bool hasBody)
    {
        if (_activity.IsCancellationRequested)
        {
            // (Reset with its timer stopped when the connection went back to the pool; only a fired one is replaced.)
            _activity.Dispose();
            _activity = new CancellationTokenSource();
        }

        var request = Request;
        request.Headers.Clear();
        request.RequestUri = null;

        request.Method = method;
        request.Version = HttpVersion.Version11;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        RequestContent.Headers.Clear();
        request.Content = hasBody ? RequestContent : null;
    }

    /// <summary>The upstream's reason phrase when it is not the standard one for its status; else null.</summary>
    public string? CustomReasonPhrase { get; private set; }

    /// <summary>Whether the direct-path request being sent has a body (set by <see cref="PrepareDirect"/>).</summary>
    public bool DirectHasBody { get; private set; }

    /// <summary>Prepares a direct-path exchange (no request message): a fresh activity source if the last one fired.</summary>
    public void PrepareDirect(bool hasBody)
    {
        if (_activity.IsCancellationRequested)
        {
            // (Reset with its timer stopped when the connection went back to the pool; only a fired one is replaced.)
            _activity.Dispose();
            _activity = new CancellationTokenSource();
        }

        DirectHasBody = hasBody;
    }

    public void ResetResponse()
    {
        CustomReasonPhrase = null;
        _headerIndex = 0;
        if (_responseFilled)
        {
            // Only a transformed exchange fills the message: the direct path never touches it (nor its cache lines).
            _responseFilled = false;
            Response.Headers.Clear();
            ResponseContent.Headers.Clear();
        }
    }

    // ---- writing -----------------------------------------------------------------------------------------------

    public void BeginWrite()
    {
        _writeLength = 0;
        if (_write.Length == 0)
        {
            _write = ArrayPool<byte>.Shared.Rent(WriteBufferSize);
        }
    }

    /// <summary>Bytes of buffer this connection holds now (read + write); 0 while idle in the pool.</summary>
    public int BufferBytes => _read.Length + _write.Length;

    /// <summary>
    /// Gives the read and write buffers back while the connection is idle and out of its pool slot (the destination
    /// pool's sweep); the next exchange rents them again. A read buffer still holding bytes is kept.
    /// </summary>
    public void ReleaseBuffers()
    {
        ReturnBuffer(ref _write);
        _writeLength = 0;
        if (_readStart == _readEnd)
        {
            ReturnBuffer(ref _read);
            _readStart = _readEnd = 0;
        }
    }

    /// <summary>
    /// Gives the write buffer back once the request head is sent: it was held only across that (usually synchronous)
    /// send, so the next exchange's rent is served by the pool's per-thread cache instead of each of hundreds of busy
    /// connections keeping 4 KiB while it waits for its response. A request body rents it again (<see cref="BodyBuffer"/>).
    /// </summary>
    public void ReleaseWriteBuffer()
    {
        _writeLength = 0;
        ReturnBuffer(ref _write);
    }

    private static void ReturnBuffer(ref byte[] buffer)
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = [];
        }
    }

    public int WrittenLength => _writeLength;

    /// <summary>What was written since <see cref="BeginWrite"/> (tests).</summary>
    internal ReadOnlySpan<byte> Written => _write.AsSpan(0, _writeLength);

    public Span<byte> GetWriteSpan(int sizeHint)
    {
        if (_write.Length - _writeLength < sizeHint)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(_write.Length * 2, WriteBufferSize), _writeLength + sizeHint));
            _write.AsSpan(0, _writeLength).CopyTo(bigger);
            ReturnBuffer(ref _write);
            _write = bigger;
        }

        return _write.AsSpan(_writeLength);
    }

    public void Advance(int count) => _writeLength += count;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetWriteSpan(bytes.Length));
        _writeLength += bytes.Length;
    }

    /// <summary>ASCII text (header names, values, the target); false when it holds a character that may not be sent (non-ASCII, CR, LF, NUL).</summary>
    public bool WriteAscii(string text) => WriteAscii(text.AsSpan());

    /// <summary>As <see cref="WriteAscii(string)"/>.</summary>
    public bool WriteAscii(ReadOnlySpan<char> text)
    {
        // Two vectorized passes instead of a test per character (a bearer token is ~150 of them): the narrowing stops
        // at the first non-ASCII character, then CR, LF and NUL are looked for among the bytes.
        var span = GetWriteSpan(text.Length)[..text.Length];
        if (Ascii.FromUtf16(text, span, out _) != OperationStatus.Done || span.IndexOfAny((byte)'\r', (byte)'\n', (byte)0) >= 0)
        {
            return false;
        }

        _writeLength += text.Length;
        return true;
    }

    public ValueTask SendWrittenAsync(CancellationToken cancellationToken) => SendAsync(_write.AsMemory(0, _writeLength), cancellationToken);

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _channel is { } channel ? channel.SendAsync(data, cancellationToken) : SendOnSocketAsync(data, cancellationToken);

    private async ValueTask SendOnSocketAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var socket = _socket!;
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    /// <summary>A scratch buffer of at least <paramref name="size"/> bytes for copying the request body (the write buffer, after the head was sent).</summary>
    public Memory<byte> BodyBuffer(int size)
    {
        _writeLength = 0;
        return _write.Length >= size ? _write : GrowWrite(size);
    }

    private byte[] GrowWrite(int size)
    {
        ReturnBuffer(ref _write);
        _write = ArrayPool<byte>.Shared.Rent(Math.Max(size, WriteBufferSize));
        return _write;
    }

    // ---- reading -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Starts reading more bytes after the buffered ones (pass the awaited result to <see cref="Received"/>); 0 at end
    /// of stream. Grows the buffer up to <paramref name="maxBuffered"/>.
    /// </summary>
    public ValueTask<int> ReceiveAsync(int maxBuffered, CancellationToken cancellationToken)
    {
        _waitedReadable = false;
        if (_readStart == _readEnd)
        {
            _readStart = _readEnd = 0;
            if (_channel is { } readable && _read.Length == 0)
            {
                // Epoll engine, nothing buffered and no buffer held (the wait for the upstream's answer): wait for
                // readability with an empty buffer, so a thousand connections waiting hold no memory; the buffer is
                // rented and filled by Received, with the one recv the socket needs anyway (no extra call).
                _waitedReadable = true;
                return readable.ReceiveAsync(Memory<byte>.Empty, cancellationToken);
            }

            if (_read.Length < _readSize)
            {
                // First receive of an exchange (the buffer went back while idle), or this upstream's answers outgrew it.
                ReturnBuffer(ref _read);
                _read = ArrayPool<byte>.Shared.Rent(_readSize);
            }
        }
        else if (_readEnd == _read.Length)
        {
            var count = _readEnd - _readStart;
            if (_readStart > 0)
            {
                _read.AsSpan(_readStart, count).CopyTo(_read);
            }
            else if (_read.Length < maxBuffered)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(maxBuffered, _read.Length * 2));
                _read.AsSpan(0, count).CopyTo(bigger);
                ReturnBuffer(ref _read);
                _read = bigger;
            }
            else
            {
                return new ValueTask<int>(-1); // full, nothing consumed: the caller's limit is exceeded
            }

            _readStart = 0;
            _readEnd = count;
        }

        var space = _read.Length - _readEnd;
        _receiveSpace = space;
        return _channel is { } channel ? channel.ReceiveAsync(_read.AsMemory(_readEnd), cancellationToken)
            : _socket!.ReceiveAsync(_read.AsMemory(_readEnd), SocketFlags.None, cancellationToken);
    }

    /// <summary>Room the pending receive was given (for <see cref="Received"/>).</summary>
    private int _receiveSpace;

    /// <summary>The pending receive was a zero-byte wait for readability (epoll engine): <see cref="Received"/> reads.</summary>
    private bool _waitedReadable;

    /// <summary>What <see cref="Received"/> returns when a readability wait found nothing to read after all (a stale edge): receive again.</summary>
    internal const int NotReadable = int.MinValue;

    /// <summary>After a zero-byte wait: rents the read buffer and receives without ever parking (a stale edge gives the buffer back).</summary>
    private int ReceiveReadable()
    {
        _read = ArrayPool<byte>.Shared.Rent(_readSize);
        _receiveSpace = _read.Length;
        var result = _channel!.Socket.TryReceive(_read);
        if (result >= 0)
        {
            return result;
        }

        ReturnBuffer(ref _read);
        if (result == EpollSocket.Pending)
        {
            return NotReadable;
        }

        throw new SocketException((int)SocketErrors.FromErrno(-result));
    }

    /// <summary>
    /// At the end of an exchange whose response was read whole (epoll engine): the read buffer goes back, so a
    /// connection holds one only from the moment its answer is readable until it is relayed.
    /// </summary>
    public void ReleaseReadBufferIfEmpty()
    {
        if (_channel is not null && _readStart == _readEnd)
        {
            _readStart = _readEnd = 0;
            ReturnBuffer(ref _read);
        }
    }

    /// <summary>
    /// Must be called with the result of every <see cref="ReceiveAsync"/> (which only starts the socket read, so the
    /// caller awaits the socket itself: no extra suspended async level per response): counts the bytes in.
    /// Returns <paramref name="read"/>: 0 at end of stream, -1 when the buffer is full at the caller's limit.
    /// </summary>
    public int Received(int read)
    {
        if (_waitedReadable)
        {
            _waitedReadable = false;
            read = ReceiveReadable();
        }

        if (read <= 0)
        {
            return read;
        }

        _readEnd += read;
        if (read == _receiveSpace && _readSize < ReadBufferSize)
        {
            _readSize = ReadBufferSize; // the upstream had more than the buffer held: bigger reads from the next one on
        }

        return read;
    }

    public void Consume(int count) => _readStart += count;

    public ReadOnlySequence<byte> BufferedSequence => new(_read, _readStart, _readEnd - _readStart);

    /// <summary>Offset of a position within <see cref="BufferedSequence"/> (single segment over the read buffer).</summary>
    public int OffsetOf(SequencePosition position) => position.GetInteger() - _readStart;

    // ---- response head ---------------------------------------------------------------------------------------------

    public void OnStatusLine(Http1Version version, int statusCode, ReadOnlySpan<byte> reason)
    {
        _responseVersion = version;
        _responseStatus = statusCode;
        var standard = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(statusCode);
        CustomReasonPhrase = Ascii.Equals(reason, standard) ? null : Encoding.Latin1.GetString(reason);
    }

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var i = _headerIndex++;
        if (i >= _names.Length)
        {
            Array.Resize(ref _names, _names.Length * 2);
            Array.Resize(ref _values, _values.Length * 2);
        }

        var strings = _pool.HeaderStrings;
        _names[i] = strings.Name(i, name);
        _values[i] = strings.Value(i, value);
    }

    /// <summary>
    /// The class the direct path gave field <paramref name="index"/>'s name (kept with the destination's shared name
    /// object, so an upstream that sends the same fields every time costs no lookup), computed by <paramref name="classify"/> when new.
    /// </summary>
    public byte HeaderClass(int index, Func<string, byte> classify)
    {
        var name = _names[index]!;
        var value = name.Class;
        if (value == ResponseHeaderName.Unclassified)
        {
            value = name.Class = classify(name.Value);
        }

        return value;
    }

    /// <summary>Header fields of the response just parsed (interim answers excluded), as the destination's shared strings.</summary>
    public int HeaderCount => _headerIndex;

    public string HeaderNameAt(int index) => _names[index]!.Value;

    public string HeaderValue(int index) => _values[index]!;

    /// <summary>Field <paramref name="index"/> as head-line bytes shared by the destination's connections, or null (see <see cref="ResponseHeaderStrings.Line"/>).</summary>
    public byte[]? HeaderLine(int index) => _pool.HeaderStrings.Line(index, _names[index]!, _values[index]!);

    /// <summary>Puts the parsed status line and header fields on <see cref="Response"/> (and its content, for content headers) for the transformer.</summary>
    public void FillResponseMessage()
    {
        var response = Response;
        _responseFilled = true;
        response.Version = _responseVersion == Http1Version.Http11 ? HttpVersion.Version11 : HttpVersion.Version10;
        response.StatusCode = (HttpStatusCode)_responseStatus;
        response.ReasonPhrase = CustomReasonPhrase;
        var headers = response.Headers;
        for (var i = 0; i < _headerIndex; i++)
        {
            var name = _names[i]!.Value;
            if (!headers.TryAddWithoutValidation(name, _values[i]!))
            {
                ResponseContent.Headers.TryAddWithoutValidation(name, _values[i]!);
            }
        }
    }

    /// <summary>Closes the socket and returns the buffers; true the first time.</summary>
    public bool Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return false;
        }

        try
        {
            _socket?.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }

        _channel?.Close();

        _activity.Dispose();
        Parser.Dispose();
        Chunked.Dispose();
        ReturnBuffer(ref _read);
        ReturnBuffer(ref _write);
        return true;
    }
}

/// <summary>Content that only carries headers: the request body and response body are streamed by the sender, never through it.</summary>
internal sealed class HeaderOnlyContent : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        throw new NotSupportedException("The raw HTTP/1.1 client streams bodies itself.");

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
