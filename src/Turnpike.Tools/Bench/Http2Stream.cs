using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Turnpike.Tools.Bench;

/// <summary>
/// HTTP/2 load: one <see cref="SocketsHttpHandler"/> per connection (h2c with prior knowledge for http://, ALPN h2
/// for https://, one TCP connection each), and <c>--streams</c> loops per connection, each keeping one stream busy.
/// </summary>
internal sealed class Http2Connection : IDisposable
{
    private readonly HttpMessageInvoker _invoker;

    public Http2Connection(BenchShard shard, TimeSpan connectTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectTimeout = connectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, token).ConfigureAwait(false);
                    shard.CountConnect();
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true; // a load tool, not a trust decision
        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public HttpMessageInvoker Invoker => _invoker;

    public void Dispose() => _invoker.Dispose();
}

/// <summary>One loop on an <see cref="Http2Connection"/>: one request at a time on its own stream.</summary>
internal sealed class Http2Stream
{
    private readonly int _slot;
    private readonly Http2Connection _connection;
    private readonly BenchOptions _options;
    private readonly BenchShard _shard;
    private readonly RunControl _control;

    public Http2Stream(int slot, Http2Connection connection, BenchOptions options, BenchShard shard, RunControl control)
    {
        _slot = slot;
        _connection = connection;
        _options = options;
        _shard = shard;
        _control = control;
    }

    public async Task RunAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var method = new HttpMethod(_options.Method);
        var next = _slot % _options.Urls.Count;
        long sequence = 0;
        try
        {
            while (_control.TryTake())
            {
                long intended;
                try
                {
                    intended = await _control.WaitTurnAsync(_slot, sequence++).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var url = _options.Urls[next];
                next = next + 1 == _options.Urls.Count ? 0 : next + 1;
                var error = await SendOneAsync(method, url, buffer, intended).ConfigureAwait(false);
                if (error is { } kind && !_control.IsStopping)
                {
                    _shard.RecordError(kind);
                    if (!_control.IsOpenModel)
                    {
                        try
                        {
                            await Task.Delay(10, _control.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<BenchErrorKind?> SendOneAsync(HttpMethod method, Uri url, byte[] buffer, long intended)
    {
        using var request = new HttpRequestMessage(method, url)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        foreach (var (name, value) in _options.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent(_options.Body ?? []);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (_options.Body is { Length: > 0 } body && request.Content is null)
        {
            request.Content = new ByteArrayContent(body);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_control.Token);
        timeout.CancelAfter(_options.Timeout);
        var sent = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _connection.Invoker.SendAsync(request, timeout.Token).ConfigureAwait(false);
            long received = 0;
            var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                int n;
                while ((n = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false)) > 0)
                {
                    received += n;
                }
            }

            _shard.RecordAnswer((int)response.StatusCode, _control.IsOpenModel ? Math.Min(intended, sent) : sent, sent, Stopwatch.GetTimestamp());
            _shard.AddBytes(received);
            return null;
        }
        catch (OperationCanceledException) when (!_control.IsStopping)
        {
            return BenchErrorKind.Timeout;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (HttpRequestException ex)
        {
            return ex.HttpRequestError switch
            {
                HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError => BenchErrorKind.Connect,
                HttpRequestError.InvalidResponse or HttpRequestError.VersionNegotiationError or HttpRequestError.ConfigurationLimitExceeded => BenchErrorKind.Read,
                _ => BenchErrorKind.Reset,
            };
        }
        catch (IOException)
        {
            return BenchErrorKind.Reset;
        }
    }
}
