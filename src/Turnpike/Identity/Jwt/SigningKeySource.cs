using System.Net.Http;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;

namespace Turnpike.Identity.Jwt;

/// <summary>Where a JWT scheme's verification keys come from. <see cref="Current"/> is read once per validation.</summary>
internal abstract class SigningKeySource : IDisposable
{
    public abstract SigningKeySet Current { get; }

    /// <summary>Called when a token names a key the current set lacks. A remote source may fetch again (rate-limited,
    /// single-flight); the answer is the newest set, possibly unchanged.</summary>
    public virtual ValueTask<SigningKeySet> RefreshForUnknownKeyAsync() => ValueTask.FromResult(Current);

    /// <summary>Starts background refreshing (remote sources only).</summary>
    public virtual void Start()
    {
    }

    public virtual void Dispose()
    {
    }
}

/// <summary>Keys from a PEM or JWKS file, or a shared secret: fixed for the life of the configuration.</summary>
internal sealed class StaticKeySource(SigningKeySet keys) : SigningKeySource
{
    public override SigningKeySet Current { get; } = keys;
}

/// <summary>
/// Keys from a JWKS URL, directly or through an OIDC discovery document's <c>jwks_uri</c>. Fetched in the
/// background every <c>refreshInterval</c> (after a failure: every <c>minRefreshInterval</c>); a token with an
/// unknown kid triggers an early fetch, but never sooner than <c>minRefreshInterval</c> after the previous fetch
/// started, and concurrent requests share one fetch (single flight). So over any period D, unknown kids cause at
/// most 1 + D / minRefreshInterval fetches. A failed fetch keeps the last good set (logged once until it recovers);
/// a set is swapped in whole with one volatile write.
/// </summary>
internal sealed partial class JwksKeySource : SigningKeySource
{
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly JwtSchemeConfig _config;
    private readonly string _scheme;
    private readonly HttpMessageInvoker _http;
    private readonly bool _ownsHttp;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private SigningKeySet _current = SigningKeySet.Empty;
    private Task<SigningKeySet>? _inflight;
    private long _lastFetchStart = long.MinValue;
    private long _fetches;
    private long _failures;
    private long _rateLimited;
    private int _down;
    private int _started;

    public JwksKeySource(string scheme, JwtSchemeConfig config, TimeProvider time, ILogger logger, HttpMessageInvoker? http = null)
    {
        _scheme = scheme;
        _config = config;
        _time = time;
        _logger = logger;
        _ownsHttp = http is null;
        _http = http ?? new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a key URL that redirects elsewhere is not followed
            ConnectTimeout = config.FetchTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxResponseHeadersLength = 64,
        });
    }

    public override SigningKeySet Current => Volatile.Read(ref _current);

    /// <summary>Fetches attempted so far (successful or not).</summary>
    public long Fetches => Interlocked.Read(ref _fetches);

    public long FetchFailures => Interlocked.Read(ref _failures);

    /// <summary>Unknown-kid refreshes refused because the previous fetch was less than minRefreshInterval ago.</summary>
    public long RateLimitedRefreshes => Interlocked.Read(ref _rateLimited);

    public bool IsDown => Volatile.Read(ref _down) == 1;

    public DateTimeOffset? LastSuccess { get; private set; }

    public string? LastError { get; private set; }

    public override void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = RunAsync();
        }
    }

    public override async ValueTask<SigningKeySet> RefreshForUnknownKeyAsync() => await Fetch(periodic: false).ConfigureAwait(false);

    /// <summary>Joins the fetch in flight or starts one; an unknown-kid request is refused (current set returned) within
    /// minRefreshInterval of the previous fetch. The rate-limit check runs while owning the in-flight slot, so it is exact.</summary>
    internal Task<SigningKeySet> Fetch(bool periodic)
    {
        if (Volatile.Read(ref _inflight) is { } running)
        {
            return running;
        }

        var tcs = new TaskCompletionSource<SigningKeySet>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _inflight, tcs.Task, null) is { } other)
        {
            return other;
        }

        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastFetchStart);
        if (!periodic && last != long.MinValue && _time.GetElapsedTime(last, now) < _config.MinRefreshInterval)
        {
            // Others may have picked up this task while we owned the slot: complete it before letting go.
            Interlocked.Increment(ref _rateLimited);
            tcs.TrySetResult(Current);
            Volatile.Write(ref _inflight, null);
            return tcs.Task;
        }

        Interlocked.Exchange(ref _lastFetchStart, now);
        _ = CompleteFetchAsync(tcs);
        return tcs.Task;
    }

    private async Task CompleteFetchAsync(TaskCompletionSource<SigningKeySet> tcs)
    {
        try
        {
            Interlocked.Increment(ref _fetches);
            var (keys, error) = await FetchOnceAsync().ConfigureAwait(false);
            if (keys is not null)
            {
                Volatile.Write(ref _current, keys);
                LastSuccess = _time.GetUtcNow();
                LastError = null;
                if (Interlocked.Exchange(ref _down, 0) == 1)
                {
                    LogRecovered(_logger, _scheme, keys.Count);
                }
            }
            else
            {
                Interlocked.Increment(ref _failures);
                LastError = error;
                if (Interlocked.Exchange(ref _down, 1) == 0)
                {
                    LogFetchFailed(_logger, _scheme, error!, Current.Count);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _inflight, null);
            tcs.TrySetResult(Current);
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            await Fetch(periodic: true).ConfigureAwait(false);
            var delay = IsDown ? _config.MinRefreshInterval : _config.RefreshInterval;
            try
            {
                await Task.Delay(delay, _time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One fetch: the discovery document (when configured), then the JWKS. Never throws.</summary>
    private async Task<(SigningKeySet? Keys, string? Error)> FetchOnceAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_config.FetchTimeout);
        try
        {
            var jwksUrl = _config.JwksUrl;
            if (_config.Discovery is { } discovery)
            {
                var document = await GetAsync(discovery, timeout.Token).ConfigureAwait(false);
                using var json = JsonDocument.Parse(document);
                if (!json.RootElement.TryGetProperty("jwks_uri", out var uri) || uri.ValueKind != JsonValueKind.String)
                {
                    return (null, $"discovery document {discovery} has no jwks_uri");
                }

                jwksUrl = uri.GetString()!;
                if (!Uri.TryCreate(jwksUrl, UriKind.Absolute, out var parsed) || !(parsed.Scheme == Uri.UriSchemeHttps || (parsed.Scheme == Uri.UriSchemeHttp && parsed.IsLoopback)))
                {
                    return (null, $"discovery document names jwks_uri '{jwksUrl}', which is not https");
                }
            }

            var body = await GetAsync(jwksUrl!, timeout.Token).ConfigureAwait(false);
            var keys = SigningKeySet.FromJwks(System.Text.Encoding.UTF8.GetString(body), out var error);
            if (keys is null)
            {
                return (null, $"{jwksUrl}: {error}");
            }

            return keys.Count == 0 ? (null, $"{jwksUrl}: the key set holds no RSA or EC signing key") : (keys, null);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            return (null, $"no answer within {_config.FetchTimeout.TotalSeconds:0.###}s");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or InvalidDataException or OperationCanceledException)
        {
            return (null, ex.Message);
        }
    }

    private async Task<byte[]> GetAsync(string url, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("application/json");
        using var response = await _http.SendAsync(request, token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{url} answered {(int)response.StatusCode}");
        }

        if (response.Content.Headers.ContentLength > MaxDocumentBytes)
        {
            throw new InvalidDataException($"{url}: document larger than {MaxDocumentBytes} bytes");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, token).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxDocumentBytes)
            {
                throw new InvalidDataException($"{url}: document larger than {MaxDocumentBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    public override void Dispose()
    {
        _stop.Cancel();
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Auth scheme {Scheme}: fetching signing keys failed ({Error}); keeping the last good set of {Count} keys until a fetch succeeds")]
    private static partial void LogFetchFailed(ILogger logger, string scheme, string error, int count);

    [LoggerMessage(2, LogLevel.Information, "Auth scheme {Scheme}: signing keys fetched again ({Count} keys)")]
    private static partial void LogRecovered(ILogger logger, string scheme, int count);
}
