using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Configuration;
using Turnpike.Health;
using Turnpike.LoadBalancing;
using Turnpike.Model;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Benchmarks;

/// <summary>
/// What health adds per attempt: <see cref="ClusterModel.Pick"/> (selection read, policy pick, breaker admission)
/// and <see cref="DestinationModel.OnEnd"/> (outlier and breaker bookkeeping), with and without health settings,
/// over 16 destinations.
/// </summary>
[MemoryDiagnoser]
public class HealthBenchmarks
{
    private const int Count = 16;

    private readonly HttpContext _context = new DefaultHttpContext();
    private ClusterModel _plain = null!;
    private ClusterModel _guarded = null!;

    [GlobalSetup]
    public void Setup()
    {
        _plain = Create(new HealthCheckConfig(), null);
        _guarded = Create(
            new HealthCheckConfig { Passive = new PassiveHealthCheckConfig { FailureRate = new FailureRateConfig() } },
            new CircuitBreakerConfig { FailureRatio = 0.5 });
    }

    [Benchmark(Baseline = true)]
    public object? PickNoHealth() => _plain.Pick(_context, null);

    [Benchmark]
    public object? PickWithPassiveAndBreaker() => _guarded.Pick(_context, null);

    [Benchmark]
    public void EndNoHealth() => End(_plain);

    [Benchmark]
    public void EndWithPassiveAndBreaker() => End(_guarded);

    private static void End(ClusterModel cluster)
    {
        var d = cluster.Destinations[5];
        d.OnStart();
        d.OnEnd(AttemptVerdict.Success, TimeSpan.FromMilliseconds(1));
    }

    private static ClusterModel Create(HealthCheckConfig health, CircuitBreakerConfig? breaker)
    {
        var config = new ClusterConfig
        {
            Id = "c",
            Destinations = Enumerable.Range(0, Count).Select(i => new DestinationConfig { Id = $"d{i}", Address = $"http://10.0.0.{i + 1}:8080" }).ToArray(),
            HealthCheck = health,
            CircuitBreaker = breaker,
        };
        var time = TimeProvider.System;
        var destinations = LoadBalancingPolicyFactory.CreateDestinations(config, time);
        var clusterHealth = new ClusterHealth(config, destinations, e => LoadBalancingPolicyFactory.Create(config.LoadBalancing, e, time), time, NullLogger.Instance);
        return new ClusterModel(config, destinations, new HttpMessageInvoker(new SocketsHttpHandler()), new ForwarderRequestConfig(), clusterHealth)
        {
            RetryBudget = new Turnpike.Retries.RetryBudget(new RetryBudgetConfig(), time),
        };
    }
}
