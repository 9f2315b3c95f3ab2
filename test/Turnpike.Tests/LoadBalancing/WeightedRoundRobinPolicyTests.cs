using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using static Turnpike.Tests.LoadBalancing.LoadBalancingTestData;

namespace Turnpike.Tests.LoadBalancing;

public sealed class WeightedRoundRobinPolicyTests
{
    [Fact]
    public void FiveOneOneInterleavesExactlyAsNginx()
    {
        // nginx: each step current += weight, pick the largest (first on ties), its current -= total (7):
        // (5,1,1)→a (-2,1,1); (3,2,2)→a (-4,2,2); (1,3,3)→b (1,-4,3); (6,-3,4)→a (-1,-3,4); (4,-2,5)→c (4,-2,-2);
        // (9,-1,-1)→a (2,-1,-1); (7,0,0)→a (0,0,0) — and the period repeats.
        var d = Destinations(5, 1, 1);
        var policy = Create(LoadBalancingPolicyKind.WeightedRoundRobin, d);
        var names = new Dictionary<string, string> { ["d0"] = "a", ["d1"] = "b", ["d2"] = "c" };
        var picks = Enumerable.Range(0, 14).Select(_ => names[policy.Pick(Context, d, null)!.Id]);
        Assert.Equal("a a b a c a a a a b a c a a", string.Join(' ', picks));
    }

    [Fact]
    public void ThreeToOneIsExactOverFullPeriods()
    {
        var d = Destinations(3, 1);
        var counts = Count(Create(LoadBalancingPolicyKind.WeightedRoundRobin, d), d, 10_000);
        Assert.Equal(7_500, counts["d0"]);
        Assert.Equal(2_500, counts["d1"]);
    }

    [Fact]
    public void WeightsAreReducedByTheirGcd()
    {
        var d = Destinations(300, 100);
        var policy = (WeightedRoundRobinPolicy)Create(LoadBalancingPolicyKind.WeightedRoundRobin, d);
        Assert.Equal(4, policy.Sequence.Length);
    }

    [Fact]
    public void HeavyWeightsAreScaledDownKeepingEveryWeightAtLeastOne()
    {
        var d = Destinations(10_000, 9_999, 1);
        var policy = (WeightedRoundRobinPolicy)Create(LoadBalancingPolicyKind.WeightedRoundRobin, d);
        var sequence = policy.Sequence.ToArray();
        Assert.InRange(sequence.Length, 1, WeightedRoundRobinPolicy.MaxSequenceLength + 2);
        Assert.Contains(sequence, x => x.Id == "d2");
        var heavy = sequence.Count(x => x.Id == "d0");
        Assert.InRange(heavy, 2040, 2056);
    }

    [Fact]
    public void WeightZeroIsNeverPicked()
    {
        var d = Destinations(2, 0, 1);
        var policy = Create(LoadBalancingPolicyKind.WeightedRoundRobin, d);
        var counts = Count(policy, d, 3_000);
        Assert.Equal(0, counts["d1"]);
        Assert.Equal(2_000, counts["d0"]);

        // Not even on a retry away from the others.
        for (var i = 0; i < 10; i++)
        {
            Assert.Same(d[2], policy.Pick(Context, d, d[0]));
        }

        var none = Destinations(0, 0);
        Assert.Null(Create(LoadBalancingPolicyKind.WeightedRoundRobin, none).Pick(Context, none, null));
    }

    [Fact]
    public void ExcludeTakesTheNextDifferentDestinationInTheSequence()
    {
        var d = Destinations(5, 1, 1);
        var policy = Create(LoadBalancingPolicyKind.WeightedRoundRobin, d);

        // Sequence a a b a c a a: excluding a from position 0 or 1 gives b, from 3 gives c, from 5 or 6 wraps to b.
        var picks = Enumerable.Range(0, 7).Select(_ => policy.Pick(Context, d, d[0])!.Id);
        Assert.Equal(["d1", "d1", "d1", "d2", "d2", "d1", "d1"], picks);

        var single = Destinations(1);
        Assert.Same(single[0], Create(LoadBalancingPolicyKind.WeightedRoundRobin, single).Pick(Context, single, single[0]));
    }
}
