using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Model;

namespace Turnpike.Benchmarks;

/// <summary>One <see cref="ILoadBalancingPolicy.Pick"/> per policy over 16 destinations (run on every attempt).</summary>
[MemoryDiagnoser]
public class LoadBalancingBenchmarks
{
    private const int Count = 16;

    private readonly HttpContext _context = CreateContext();
    private DestinationModel[] _plain = null!;
    private DestinationModel[] _weighted = null!;
    private DestinationModel[] _tracked = null!;
    private ILoadBalancingPolicy _roundRobin = null!;
    private ILoadBalancingPolicy _weightedRoundRobin = null!;
    private ILoadBalancingPolicy _leastConnections = null!;
    private ILoadBalancingPolicy _random = null!;
    private ILoadBalancingPolicy _p2cEwma = null!;
    private ILoadBalancingPolicy _consistentHashHeader = null!;
    private ILoadBalancingPolicy _consistentHashClientIp = null!;

    [GlobalSetup]
    public void Setup()
    {
        var time = TimeProvider.System;
        _plain = LoadBalancingPolicyFactory.CreateDestinations(Cluster(LoadBalancingPolicyKind.RoundRobin, weighted: false), time);
        _weighted = LoadBalancingPolicyFactory.CreateDestinations(Cluster(LoadBalancingPolicyKind.WeightedRoundRobin, weighted: true), time);
        var p2c = Cluster(LoadBalancingPolicyKind.P2cEwma, weighted: false);
        _tracked = LoadBalancingPolicyFactory.CreateDestinations(p2c, time);
        for (var i = 0; i < _tracked.Length; i++)
        {
            _tracked[i].OnStart();
            _tracked[i].OnEnd(AttemptVerdict.Success, TimeSpan.FromMilliseconds(1 + i));
        }

        _roundRobin = Create(LoadBalancingPolicyKind.RoundRobin, _plain);
        _weightedRoundRobin = Create(LoadBalancingPolicyKind.WeightedRoundRobin, _weighted);
        _leastConnections = Create(LoadBalancingPolicyKind.LeastConnections, _plain);
        _random = Create(LoadBalancingPolicyKind.Random, _plain);
        _p2cEwma = LoadBalancingPolicyFactory.Create(p2c.LoadBalancing, _tracked, time);
        _consistentHashHeader = Create(LoadBalancingPolicyKind.ConsistentHash, _plain, new HashKeyConfig { Source = HashKeySource.Header, Name = "x-user" });
        _consistentHashClientIp = Create(LoadBalancingPolicyKind.ConsistentHash, _plain, new HashKeyConfig { Source = HashKeySource.ClientIp });
    }

    [Benchmark(Baseline = true)]
    public object? RoundRobin() => _roundRobin.Pick(_context, _plain, null);

    [Benchmark]
    public object? WeightedRoundRobin() => _weightedRoundRobin.Pick(_context, _weighted, null);

    [Benchmark]
    public object? LeastConnections() => _leastConnections.Pick(_context, _plain, null);

    [Benchmark]
    public object? Random() => _random.Pick(_context, _plain, null);

    [Benchmark]
    public object? P2cEwma() => _p2cEwma.Pick(_context, _tracked, null);

    [Benchmark]
    public object? ConsistentHashHeader() => _consistentHashHeader.Pick(_context, _plain, null);

    [Benchmark]
    public object? ConsistentHashClientIp() => _consistentHashClientIp.Pick(_context, _plain, null);

    /// <summary>What ProxyHandler adds per attempt for p2c_ewma: the latency observation.</summary>
    [Benchmark]
    public void P2cEwmaObserve() => _tracked[3].OnEnd(AttemptVerdict.Success, TimeSpan.FromMilliseconds(2));

    private static ILoadBalancingPolicy Create(LoadBalancingPolicyKind kind, DestinationModel[] destinations, HashKeyConfig? key = null) =>
        LoadBalancingPolicyFactory.Create(new LoadBalancingConfig { Policy = kind, HashKey = key ?? new HashKeyConfig() }, destinations, TimeProvider.System);

    private static ClusterConfig Cluster(LoadBalancingPolicyKind kind, bool weighted) => new()
    {
        Id = "c",
        Destinations = Enumerable.Range(0, Count)
            .Select(i => new DestinationConfig { Id = $"d{i}", Address = $"http://10.0.0.{i + 1}:8080", Weight = weighted ? 1 + (i % 4) : 1 })
            .ToArray(),
        LoadBalancing = new LoadBalancingConfig { Policy = kind },
    };

    private static DefaultHttpContext CreateContext()
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("203.0.113.42");
        context.Request.Headers["x-user"] = "user-8f3a2c91";
        return context;
    }
}
