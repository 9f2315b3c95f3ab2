using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Model;
using static Turnpike.Tests.LoadBalancing.LoadBalancingTestData;

namespace Turnpike.Tests.LoadBalancing;

public sealed class P2cEwmaPolicyTests
{
    private static DestinationModel[] Tracked(ClusterConfig cluster, TimeProvider time) => LoadBalancingPolicyFactory.CreateDestinations(cluster, time);

    private static ClusterConfig Cluster(int n) => new()
    {
        Id = "c",
        Destinations = Enumerable.Range(0, n).Select(i => new DestinationConfig { Id = $"d{i}", Address = $"http://127.0.0.1:{1000 + i}" }).ToArray(),
        LoadBalancing = new LoadBalancingConfig { Policy = LoadBalancingPolicyKind.P2cEwma, EwmaDecay = TimeSpan.FromSeconds(10) },
    };

    [Fact]
    public void SlowDestinationGetsLittleTraffic()
    {
        var time = new ManualTimeProvider();
        var cluster = Cluster(3);
        var d = Tracked(cluster, time);
        var policy = LoadBalancingPolicyFactory.Create(cluster.LoadBalancing, d, time);
        var latency = new Dictionary<string, TimeSpan>
        {
            ["d0"] = TimeSpan.FromMilliseconds(10),
            ["d1"] = TimeSpan.FromMilliseconds(10),
            ["d2"] = TimeSpan.FromMilliseconds(100),
        };

        var counts = d.ToDictionary(x => x.Id, _ => 0);
        for (var i = 0; i < 10_000; i++)
        {
            // The same calls ProxyHandler makes around each attempt.
            var picked = policy.Pick(Context, d, null)!;
            counts[picked.Id]++;
            picked.OnStart();
            time.Advance(latency[picked.Id]);
            picked.OnEnd(AttemptVerdict.Success, latency[picked.Id]);
        }

        Assert.True(counts["d2"] < 1_000, $"slow destination got {counts["d2"]} of 10000");
        Assert.True(counts["d0"] > 3_000 && counts["d1"] > 3_000, string.Join(", ", counts));
    }

    [Fact]
    public void InFlightMultipliesTheCost()
    {
        var time = new ManualTimeProvider();
        var cluster = Cluster(2);
        var d = Tracked(cluster, time);
        var policy = LoadBalancingPolicyFactory.Create(cluster.LoadBalancing, d, time);
        foreach (var x in d)
        {
            x.OnStart();
            x.OnEnd(AttemptVerdict.Success, TimeSpan.FromMilliseconds(10));
        }

        for (var i = 0; i < 3; i++)
        {
            d[0].OnStart();
        }

        for (var i = 0; i < 100; i++)
        {
            Assert.Same(d[1], policy.Pick(Context, d, null));
        }
    }

    [Fact]
    public void PeakEwmaJumpsUpAndDecaysDown()
    {
        var time = new ManualTimeProvider();
        var ewma = new PeakEwma(time, TimeSpan.FromSeconds(10));
        Assert.Equal(PeakEwma.DefaultEstimateMs, ewma.EstimateMs(time.GetTimestamp()));

        ewma.Observe(TimeSpan.FromMilliseconds(10), failed: false);
        Assert.Equal(10, ewma.EstimateMs(time.GetTimestamp()), 6);

        ewma.Observe(TimeSpan.FromMilliseconds(100), failed: false); // peak: taken at once
        Assert.Equal(100, ewma.EstimateMs(time.GetTimestamp()), 6);

        time.Advance(TimeSpan.FromSeconds(10)); // one τ: w = 1/e
        ewma.Observe(TimeSpan.FromMilliseconds(10), failed: false);
        var expected = (100 / Math.E) + (10 * (1 - (1 / Math.E)));
        Assert.Equal(expected, ewma.EstimateMs(time.GetTimestamp()), 6);

        time.Advance(TimeSpan.FromSeconds(10)); // no traffic: the read decays toward zero
        Assert.Equal(expected / Math.E, ewma.EstimateMs(time.GetTimestamp()), 6);

        ewma.Observe(TimeSpan.FromMilliseconds(1), failed: true); // a failure counts as the penalty
        Assert.Equal(PeakEwma.FailurePenaltyMs, ewma.EstimateMs(time.GetTimestamp()), 6);
    }

    [Fact]
    public void UnobservedDestinationsAreTried()
    {
        var time = new ManualTimeProvider();
        var cluster = Cluster(2);
        var d = Tracked(cluster, time);
        var policy = LoadBalancingPolicyFactory.Create(cluster.LoadBalancing, d, time);
        d[0].OnStart();
        d[0].OnEnd(AttemptVerdict.Success, TimeSpan.FromMilliseconds(50));
        Assert.Same(d[1], policy.Pick(Context, d, null));
    }
}
