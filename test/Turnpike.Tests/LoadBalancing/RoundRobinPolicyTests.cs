using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Model;

namespace Turnpike.Tests.LoadBalancing;

public sealed class RoundRobinPolicyTests
{
    private static readonly Microsoft.AspNetCore.Http.DefaultHttpContext Context = new();

    private static DestinationModel[] Destinations(int n) =>
        Enumerable.Range(0, n).Select(i => new DestinationModel(new DestinationConfig { Id = $"d{i}", Address = $"http://127.0.0.1:{1000 + i}" })).ToArray();

    [Fact]
    public void CyclesThroughDestinations()
    {
        var d = Destinations(3);
        var policy = new RoundRobinPolicy();
        var picks = Enumerable.Range(0, 6).Select(_ => policy.Pick(Context, d, null)!.Id).ToArray();
        Assert.Equal(["d0", "d1", "d2", "d0", "d1", "d2"], picks);
    }

    [Fact]
    public void AvoidsTheExcludedDestinationWhenAnotherExists()
    {
        var d = Destinations(2);
        var policy = new RoundRobinPolicy();
        for (var i = 0; i < 10; i++)
        {
            Assert.Same(d[1], policy.Pick(Context, d, d[0]));
        }

        var single = Destinations(1);
        Assert.Same(single[0], policy.Pick(Context, single, single[0]));
        Assert.Null(policy.Pick(Context, [], null));
    }
}
