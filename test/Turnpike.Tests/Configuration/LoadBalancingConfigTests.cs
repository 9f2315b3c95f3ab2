using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class LoadBalancingConfigTests
{
    private static ConfigLoadResult Read(string loadBalancing) =>
        YamlConfigReader.Read($"listeners: {{ l: {{ port: 0 }} }}\nclusters:\n  c:\n    destinations: {{ d: 'http://127.0.0.1:1' }}\n    loadBalancing:\n      {loadBalancing}\n", "lb.yaml");

    [Theory]
    [InlineData("policy: round_robin", LoadBalancingPolicyKind.RoundRobin)]
    [InlineData("policy: weighted_round_robin", LoadBalancingPolicyKind.WeightedRoundRobin)]
    [InlineData("policy: least_connections", LoadBalancingPolicyKind.LeastConnections)]
    [InlineData("policy: random", LoadBalancingPolicyKind.Random)]
    [InlineData("policy: p2c_ewma", LoadBalancingPolicyKind.P2cEwma)]
    [InlineData("policy: consistent_hash", LoadBalancingPolicyKind.ConsistentHash)]
    public void ReadsPolicyNames(string yaml, LoadBalancingPolicyKind expected)
    {
        var result = Read(yaml);
        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Config!.Clusters[0].LoadBalancing.Policy);
    }

    [Fact]
    public void DefaultsToRoundRobinOnTheClientIp()
    {
        var result = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nclusters:\n  c:\n    destinations: { d: 'http://127.0.0.1:1' }\n", "lb.yaml");
        var lb = result.Config!.Clusters[0].LoadBalancing;
        Assert.Equal(LoadBalancingPolicyKind.RoundRobin, lb.Policy);
        Assert.Equal(HashKeySource.ClientIp, lb.HashKey.Source);
        Assert.Equal(TimeSpan.FromSeconds(10), lb.EwmaDecay);
    }

    [Theory]
    [InlineData("{ header: x-user }", HashKeySource.Header, "x-user")]
    [InlineData("{ cookie: session }", HashKeySource.Cookie, "session")]
    [InlineData("{ query: tenant }", HashKeySource.Query, "tenant")]
    [InlineData("clientIp", HashKeySource.ClientIp, null)]
    public void ReadsHashKeys(string key, HashKeySource source, string? name)
    {
        var result = Read($"policy: consistent_hash\n      hashKey: {key}");
        Assert.Empty(result.Errors);
        Assert.Equal(new HashKeyConfig { Source = source, Name = name }, result.Config!.Clusters[0].LoadBalancing.HashKey);
    }

    [Theory]
    [InlineData("policy: round_robbin", "clusters.c.loadBalancing.policy", "did you mean 'round_robin'")]
    [InlineData("policy: random\n      hashKey: { header: x }", "clusters.c.loadBalancing.hashKey", "only applies to policy consistent_hash")]
    [InlineData("policy: consistent_hash\n      hashKey: { header: x, cookie: y }", "clusters.c.loadBalancing.hashKey", "exactly one")]
    [InlineData("policy: p2c_ewma\n      ewmaDecay: never", "clusters.c.loadBalancing.ewmaDecay", "not a valid duration")]
    public void ReportsMistakes(string yaml, string field, string message)
    {
        var result = Read(yaml);
        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }
}
