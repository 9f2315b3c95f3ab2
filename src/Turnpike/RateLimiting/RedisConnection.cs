using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Turnpike.Configuration;

namespace Turnpike.RateLimiting;

/// <summary>
/// The Redis connection shared by a configuration's global policies: one StackExchange.Redis multiplexer, connected in
/// the background (start-up and validation never wait for Redis; it reconnects by itself), the GCRA script loaded once
/// with SCRIPT LOAD and run with EVALSHA, loaded again when a restarted server answers NOSCRIPT.
/// </summary>
internal sealed class RedisConnection : IDisposable
{
    /// <summary>
    /// GCRA (the token bucket as a "theoretical arrival time"), atomic on the server, with the server's clock so gateways'
    /// clocks never matter. KEYS[1]: the partition; ARGV[1]: µs per token; ARGV[2]: µs of burst (burst × interval).
    /// Returns {allowed (0/1), retry-after µs, remaining tokens}.
    /// </summary>
    internal const string GcraScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1]))
        if tat == nil or tat < now then tat = now end
        local new_tat = tat + interval
        local allow_at = new_tat - burst
        if allow_at > now then
          return {0, allow_at - now, 0}
        end
        redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
        return {1, 0, math.floor((burst - (new_tat - now)) / interval)}
        """;

    private static readonly byte[] ScriptSha = SHA1.HashData(Encoding.UTF8.GetBytes(GcraScript));
    private readonly ConfigurationOptions _options;
    private readonly CancellationTokenSource _disposed = new();
    private ConnectionMultiplexer? _multiplexer;
    private int _scriptLoaded;

    public RedisConnection(RedisConfig config, TimeProvider time, ILogger logger)
    {
        Config = config;
        _options = ConfigurationOptions.Parse(config.Configuration);
        _options.AbortOnConnectFail = false;
        _options.ConnectTimeout = (int)config.ConnectTimeout.TotalMilliseconds;
        _options.AsyncTimeout = Math.Max(1, (int)config.Timeout.TotalMilliseconds);
        _options.SyncTimeout = _options.ConnectTimeout;
        // Commands fail at once while disconnected instead of queueing behind a reconnect.
        _options.BacklogPolicy = BacklogPolicy.FailFast;
        _options.ReconnectRetryPolicy = new LinearRetry(500);
        _options.KeepAlive = 5;
        Endpoint = string.Join(",", _options.EndPoints.Select(e => e.ToString()));
        Health = new RedisHealth(time, config.RetryInterval, logger, Endpoint);
        _ = ConnectAsync();
    }

    public RedisConfig Config { get; }

    public string Endpoint { get; }

    public RedisHealth Health { get; }

    public bool IsConnected => Volatile.Read(ref _multiplexer)?.IsConnected == true;

    private async Task ConnectAsync()
    {
        try
        {
            var multiplexer = await ConnectionMultiplexer.ConnectAsync(_options).ConfigureAwait(false);
            if (_disposed.IsCancellationRequested)
            {
                multiplexer.Dispose();
                return;
            }

            Volatile.Write(ref _multiplexer, multiplexer);
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException or InvalidOperationException)
        {
            Health.OnFailure(ex.Message);
        }
    }

    /// <summary>Runs the GCRA script for <paramref name="key"/>. Throws when Redis is not connected or fails.</summary>
    public async Task<RedisResult> EvaluateAsync(RedisKey key, RedisValue[] args)
    {
        var multiplexer = Volatile.Read(ref _multiplexer) ?? throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "not connected yet");
        var db = multiplexer.GetDatabase();
        RedisKey[] keys = [key];
        if (Volatile.Read(ref _scriptLoaded) == 0)
        {
            await LoadScriptAsync(db).ConfigureAwait(false);
        }

        try
        {
            return await db.ScriptEvaluateAsync(ScriptSha, keys, args).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // A restarted (or flushed) server forgot the script.
            await LoadScriptAsync(db).ConfigureAwait(false);
            return await db.ScriptEvaluateAsync(ScriptSha, keys, args).ConfigureAwait(false);
        }
    }

    private async Task LoadScriptAsync(IDatabase db)
    {
        await db.ExecuteAsync("SCRIPT", "LOAD", GcraScript).ConfigureAwait(false);
        Volatile.Write(ref _scriptLoaded, 1);
    }

    public void Dispose()
    {
        _disposed.Cancel();
        Interlocked.Exchange(ref _multiplexer, null)?.Dispose();
    }
}
