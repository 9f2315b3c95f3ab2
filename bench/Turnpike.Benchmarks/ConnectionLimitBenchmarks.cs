using System.Net;
using BenchmarkDotNet.Attributes;
using Turnpike.ConnectionLimits;
using Turnpike.Configuration;

namespace Turnpike.Benchmarks;

/// <summary>
/// The per-connection accept check of <see cref="ConnectionLimitMiddleware"/>: <see cref="ListenerConnectionLimiter.TryAccept"/>
/// followed by <see cref="ListenerConnectionLimiter.Release"/>, for a client IP that is already tracked and within its
/// limits (the common path), with real <see cref="TimeProvider.System"/> timestamps. Two exempt ranges are configured
/// and checked on every path but the first.
/// </summary>
[MemoryDiagnoser]
public class ConnectionLimitBenchmarks
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint ClientV6 = new(IPAddress.Parse("2001:db8::7"), 51234);
    private static readonly IPEndPoint Exempt = new(IPAddress.Parse("10.1.2.3"), 51234);
    private static readonly string[] ExemptRanges = ["127.0.0.1/32", "10.0.0.0/8"];

    private ConnectionLimiter _none = null!;
    private ConnectionLimiter _perIp = null!;
    private ConnectionLimiter _perIpAndRate = null!;
    private ListenerConnectionLimiter _noneListener = null!;
    private ListenerConnectionLimiter _perIpListener = null!;
    private ListenerConnectionLimiter _perIpAndRateListener = null!;

    [GlobalSetup]
    public void Setup()
    {
        _none = Create(null);
        _perIp = Create(new ConnectionLimitsConfig { PerIp = 10, Total = 100_000, Exempt = ExemptRanges });
        // A rate high enough that the benchmark loop never empties the bucket: this measures the allowed path.
        _perIpAndRate = Create(new ConnectionLimitsConfig { PerIp = 10, NewPerIpPerSecond = 1e9, Burst = 1_000_000_000, Total = 100_000, Exempt = ExemptRanges });
        _noneListener = _none.ForListener("l");
        _perIpListener = _perIp.ForListener("l");
        _perIpAndRateListener = _perIpAndRate.ForListener("l");
        foreach (var listener in new[] { _perIpListener, _perIpAndRateListener })
        {
            // Track the IPs before measuring (the first connection of an IP allocates its entry).
            Check(listener, Client);
            Check(listener, ClientV6);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _none.Dispose();
        _perIp.Dispose();
        _perIpAndRate.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int NoListenerLimits() => (int)Check(_noneListener, Client);

    [Benchmark]
    public int PerIp() => (int)Check(_perIpListener, Client);

    [Benchmark]
    public int PerIpAndRate() => (int)Check(_perIpAndRateListener, Client);

    [Benchmark]
    public int PerIpAndRateIPv6() => (int)Check(_perIpAndRateListener, ClientV6);

    [Benchmark]
    public int ExemptIp() => (int)Check(_perIpAndRateListener, Exempt);

    private static ConnectionVerdict Check(ListenerConnectionLimiter limiter, EndPoint remote)
    {
        var verdict = limiter.TryAccept(remote, out var entry);
        if (verdict != ConnectionVerdict.Accepted)
        {
            throw new InvalidOperationException($"not the allowed path: {verdict}");
        }

        limiter.Release(entry);
        return verdict;
    }

    private static ConnectionLimiter Create(ConnectionLimitsConfig? limits) =>
        new(new GatewayConfig
        {
            Server = new ServerConfig { Limits = new LimitsConfig { MaxConcurrentConnections = 100_000 } },
            Listeners = [new ListenerConfig { Name = "l", ConnectionLimits = limits }],
        }, TimeProvider.System);
}
