using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Model;

namespace Turnpike.Tests.LoadBalancing;

internal static class LoadBalancingTestData
{
    public static readonly DefaultHttpContext Context = new();

    public static DestinationModel[] Destinations(params int[] weights) =>
        weights.Select((w, i) => new DestinationModel(new DestinationConfig { Id = $"d{i}", Address = $"http://127.0.0.1:{1000 + i}", Weight = w })).ToArray();

    public static DestinationModel[] Uniform(int n) => Destinations(Enumerable.Repeat(1, n).ToArray());

    public static ILoadBalancingPolicy Create(LoadBalancingPolicyKind kind, DestinationModel[] destinations, TimeProvider? time = null, HashKeyConfig? key = null) =>
        LoadBalancingPolicyFactory.Create(new LoadBalancingConfig { Policy = kind, HashKey = key ?? new HashKeyConfig() }, destinations, time ?? TimeProvider.System);

    public static Dictionary<string, int> Count(ILoadBalancingPolicy policy, DestinationModel[] destinations, int picks, HttpContext? context = null)
    {
        var counts = destinations.ToDictionary(d => d.Id, _ => 0);
        for (var i = 0; i < picks; i++)
        {
            counts[policy.Pick(context ?? Context, destinations, null)!.Id]++;
        }

        return counts;
    }
}
