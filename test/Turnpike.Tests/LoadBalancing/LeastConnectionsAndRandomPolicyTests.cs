using Turnpike.Configuration;
using static Turnpike.Tests.LoadBalancing.LoadBalancingTestData;

namespace Turnpike.Tests.LoadBalancing;

public sealed class LeastConnectionsAndRandomPolicyTests
{
    [Fact]
    public void LeastConnectionsPrefersTheIdleDestination()
    {
        var d = Uniform(3);
        var policy = Create(LoadBalancingPolicyKind.LeastConnections, d);
        d[0].OnStart();
        d[0].OnStart();
        d[2].OnStart();
        for (var i = 0; i < 10; i++)
        {
            Assert.Same(d[1], policy.Pick(Context, d, null));
        }

        // Load follows the picks: each pick that starts a request makes that destination busier.
        var picked = policy.Pick(Context, d, null)!;
        picked.OnStart();
        Assert.Same(d[1], picked);

        // d1 and d2 now tie at 1 (d0 has 2): they take turns.
        var next = new[] { policy.Pick(Context, d, null)!.Id, policy.Pick(Context, d, null)!.Id };
        Assert.Equal(["d1", "d2"], next.Order());
    }

    [Fact]
    public void LeastConnectionsRotatesAmongTies()
    {
        var d = Uniform(4);
        var policy = Create(LoadBalancingPolicyKind.LeastConnections, d);
        var picks = Enumerable.Range(0, 8).Select(_ => policy.Pick(Context, d, null)!.Id).ToArray();
        Assert.Equal(["d0", "d1", "d2", "d3", "d0", "d1", "d2", "d3"], picks);

        d[3].OnStart();
        var counts = Count(policy, d, 300);
        Assert.Equal(0, counts["d3"]);
        Assert.All(new[] { "d0", "d1", "d2" }, id => Assert.Equal(100, counts[id]));
    }

    [Fact]
    public void LeastConnectionsHonoursExclude()
    {
        var d = Uniform(2);
        var policy = Create(LoadBalancingPolicyKind.LeastConnections, d);
        d[1].OnStart();
        d[1].OnStart();
        Assert.Same(d[1], policy.Pick(Context, d, d[0]));
    }

    [Fact]
    public void RandomSpreadsAndHonoursExclude()
    {
        var d = Uniform(4);
        var policy = Create(LoadBalancingPolicyKind.Random, d);
        var counts = Count(policy, d, 10_000);
        Assert.All(counts.Values, c => Assert.InRange(c, 2_000, 3_000));

        for (var i = 0; i < 1_000; i++)
        {
            Assert.NotSame(d[2], policy.Pick(Context, d, d[2]));
        }
    }

    [Theory]
    [InlineData(LoadBalancingPolicyKind.RoundRobin)]
    [InlineData(LoadBalancingPolicyKind.WeightedRoundRobin)]
    [InlineData(LoadBalancingPolicyKind.LeastConnections)]
    [InlineData(LoadBalancingPolicyKind.Random)]
    [InlineData(LoadBalancingPolicyKind.P2cEwma)]
    [InlineData(LoadBalancingPolicyKind.ConsistentHash)]
    public void EveryPolicyHonoursExcludeAndHandlesEdgeCases(LoadBalancingPolicyKind kind)
    {
        var d = Uniform(3);
        var policy = Create(kind, d);
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("10.1.2.3");
        for (var i = 0; i < 200; i++)
        {
            var excluded = d[i % 3];
            var picked = policy.Pick(context, d, excluded);
            Assert.NotNull(picked);
            Assert.NotSame(excluded, picked);
        }

        var single = Uniform(1);
        Assert.Same(single[0], Create(kind, single).Pick(context, single, single[0]));

        Turnpike.Model.DestinationModel[] empty = [];
        Assert.Null(Create(kind, empty).Pick(context, empty, null));
    }
}
