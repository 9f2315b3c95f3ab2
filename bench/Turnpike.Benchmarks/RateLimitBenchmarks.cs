using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Configuration;
using Turnpike.Model;
using Turnpike.RateLimiting;

namespace Turnpike.Benchmarks;

/// <summary>
/// The per-request cost of a route's rate-limit step: no policy (the null check the request path does), a local token
/// bucket keyed by client IP or by header (existing partition, always admitting), and a global token bucket through
/// Redis (one EVALSHA round trip on loopback). The Redis benchmark uses <c>TURNPIKE_BENCH_REDIS</c> (host:port) or
/// starts its own <c>redis-server</c> on a free port; without either it fails.
/// </summary>
[MemoryDiagnoser]
public class RateLimitBenchmarks
{
    private readonly RouteModel _route = null!; // only routeValue keys read the route
    private DefaultHttpContext _context = null!;
    private RouteRateLimits? _none;
    private RateLimitPolicy _byIp = null!;
    private RateLimitPolicy _byHeader = null!;
    private RateLimitPolicy _global = null!;
    private RedisConnection? _redis;
    private Process? _redisProcess;

    [GlobalSetup]
    public async Task Setup()
    {
        _none = null;
        _context = new DefaultHttpContext();
        _context.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.7");
        _context.Request.Headers["x-api-key"] = "key-1234567890";
        var time = TimeProvider.System;
        _byIp = new RateLimitPolicy(new RateLimitPolicyConfig { Name = "ip", Limit = 1_000_000_000, Burst = 1_000_000_000 }, time, null);
        _byHeader = new RateLimitPolicy(new RateLimitPolicyConfig
        {
            Name = "key", Limit = 1_000_000_000, Burst = 1_000_000_000, Key = new RateLimitKeyConfig { Source = RateLimitKeySource.ApiKey, Name = "x-api-key" },
        }, time, null);

        var endpoint = Environment.GetEnvironmentVariable("TURNPIKE_BENCH_REDIS") ?? StartRedis();
        _redis = new RedisConnection(new RedisConfig { Configuration = endpoint, Timeout = TimeSpan.FromSeconds(1) }, time, NullLogger.Instance);
        var policy = new RateLimitPolicyConfig { Name = "bench", Limit = 1_000_000_000, Burst = 1_000_000_000, Scope = RateLimitScope.Global };
        _global = new RateLimitPolicy(policy, time, _redis);
        for (var i = 0; i < 100 && !_redis.IsConnected; i++)
        {
            await Task.Delay(50);
        }

        if (!(await _global.Global!.TryAcquireAsync("warm-up") is { Allowed: true }))
        {
            throw new InvalidOperationException($"Redis at {endpoint} did not answer");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _byIp.Dispose();
        _byHeader.Dispose();
        _global.Dispose();
        _redis?.Dispose();
        if (_redisProcess is { HasExited: false })
        {
            _redisProcess.Kill();
            _redisProcess.WaitForExit();
        }
    }

    [Benchmark(Baseline = true, Description = "no policy (route.RateLimits is null)")]
    public bool Off() => _none is null || _none.Synchronous;

    [Benchmark(Description = "local token bucket, key clientIp")]
    public bool LocalByClientIp() => _byIp.AcquireLocal(_context, _route).Allowed;

    [Benchmark(Description = "local token bucket, key apiKey header")]
    public bool LocalByHeader() => _byHeader.AcquireLocal(_context, _route).Allowed;

    [Benchmark(Description = "global token bucket (Redis EVALSHA, loopback)")]
    public async Task<bool> GlobalRedis() => (await _global.AcquireGlobalAsync("203.0.113.7")).Allowed;

    private string StartRedis()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in (string[])["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            info.ArgumentList.Add(arg);
        }

        _redisProcess = Process.Start(info) ?? throw new InvalidOperationException("set TURNPIKE_BENCH_REDIS or install redis-server");
        _redisProcess.BeginOutputReadLine();
        Thread.Sleep(300);
        return $"127.0.0.1:{port}";
    }
}
