using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class HealthConfigTests
{
    private static ConfigLoadResult Read(string clusterBody, string destination = "d: 'http://127.0.0.1:1'") =>
        YamlConfigReader.Read($"listeners: {{ l: {{ port: 0 }} }}\nclusters:\n  c:\n    destinations: {{ {destination} }}\n{clusterBody}\n", "h.yaml");

    [Fact]
    public void EverythingIsOffByDefault()
    {
        var result = Read(string.Empty);
        Assert.Empty(result.Errors);
        var cluster = result.Config!.Clusters[0];
        Assert.Null(cluster.HealthCheck.Active);
        Assert.Null(cluster.HealthCheck.Passive);
        Assert.Null(cluster.CircuitBreaker);
        Assert.Equal(0, cluster.Destinations[0].Priority);
    }

    [Fact]
    public void ReadsEveryKey()
    {
        var result = Read("""
                healthCheck:
                  active: { path: /ready, interval: 3s, timeout: 500ms, expectedStatus: 200-299, healthyThreshold: 4, unhealthyThreshold: 5 }
                  passive:
                    consecutiveFailures: 7
                    failureRate: { threshold: 0.25, minRequests: 50, window: 30s }
                    baseEjectionTime: 15s
                    maxEjectionTime: 2m
                    maxEjectionPercent: 30
                circuitBreaker:
                  consecutiveFailures: 4
                  failureRatio: 0.6
                  minimumThroughput: 12
                  samplingDuration: 20s
                  breakDuration: 45s
                  halfOpenRequests: 3
                  successThreshold: 5
            """, "d: { address: 'http://127.0.0.1:1', priority: 2, health: /live }");
        Assert.Empty(result.Errors);
        var cluster = result.Config!.Clusters[0];
        Assert.Equal(new ActiveHealthCheckConfig
        {
            Path = "/ready", Interval = TimeSpan.FromSeconds(3), Timeout = TimeSpan.FromMilliseconds(500),
            ExpectedStatusMin = 200, ExpectedStatusMax = 299, HealthyThreshold = 4, UnhealthyThreshold = 5,
        }, cluster.HealthCheck.Active);
        Assert.Equal(new PassiveHealthCheckConfig
        {
            ConsecutiveFailures = 7,
            FailureRate = new FailureRateConfig { Threshold = 0.25, MinRequests = 50, Window = TimeSpan.FromSeconds(30) },
            BaseEjectionTime = TimeSpan.FromSeconds(15), MaxEjectionTime = TimeSpan.FromMinutes(2), MaxEjectionPercent = 30,
        }, cluster.HealthCheck.Passive);
        Assert.Equal(new CircuitBreakerConfig
        {
            ConsecutiveFailures = 4, FailureRatio = 0.6, MinimumThroughput = 12, SamplingDuration = TimeSpan.FromSeconds(20),
            BreakDuration = TimeSpan.FromSeconds(45), HalfOpenRequests = 3, SuccessThreshold = 5,
        }, cluster.CircuitBreaker);
        Assert.Equal((2, "/live"), (cluster.Destinations[0].Priority, cluster.Destinations[0].Health));
    }

    [Fact]
    public void EmptySectionsTakeDefaults()
    {
        var result = Read("    healthCheck: { active: {}, passive: {} }\n    circuitBreaker: {}");
        Assert.Empty(result.Errors);
        Assert.Equal(new ActiveHealthCheckConfig(), result.Config!.Clusters[0].HealthCheck.Active);
        Assert.Equal(new PassiveHealthCheckConfig(), result.Config.Clusters[0].HealthCheck.Passive);
        Assert.Equal(new CircuitBreakerConfig(), result.Config.Clusters[0].CircuitBreaker);
    }

    [Theory]
    [InlineData("    healthCheck: { active: { expectedStatus: 200-99 } }", "clusters.c.healthCheck.active.expectedStatus", "not a status or an inclusive range")]
    [InlineData("    healthCheck: { active: { path: ready } }", "clusters.c.healthCheck.active.path", "must be a path")]
    [InlineData("    healthCheck: { active: { interval: 1s, timeout: 2s } }", "clusters.c.healthCheck.active.timeout", "must not exceed the interval")]
    [InlineData("    healthCheck: { active: { healthyThreshold: 0 } }", "clusters.c.healthCheck.active.healthyThreshold", "out of range")]
    [InlineData("    healthCheck: { activ: {} }", "clusters.c.healthCheck.activ", "did you mean 'active'")]
    [InlineData("    healthCheck: { passive: { consecutiveFailures: 0 } }", "clusters.c.healthCheck.passive.consecutiveFailures", "nothing would ever eject")]
    [InlineData("    healthCheck: { passive: { baseEjectionTime: 1m, maxEjectionTime: 10s } }", "clusters.c.healthCheck.passive.maxEjectionTime", "at least baseEjectionTime")]
    [InlineData("    healthCheck: { passive: { maxEjectionPercent: 101 } }", "clusters.c.healthCheck.passive.maxEjectionPercent", "out of range")]
    [InlineData("    healthCheck: { passive: { failureRate: { threshold: 2 } } }", "clusters.c.healthCheck.passive.failureRate.threshold", "not a number in")]
    [InlineData("    circuitBreaker: { consecutiveFailures: 0 }", "clusters.c.circuitBreaker.consecutiveFailures", "would never open")]
    [InlineData("    circuitBreaker: { minimumThroughput: 5 }", "clusters.c.circuitBreaker.minimumThroughput", "only applies together with failureRatio")]
    [InlineData("    circuitBreaker: { breakDuration: 0 }", "clusters.c.circuitBreaker.breakDuration", "not a valid duration")]
    [InlineData("    circuitBreaker: { halfOpenRequest: 2 }", "clusters.c.circuitBreaker.halfOpenRequest", "did you mean 'halfOpenRequests'")]
    public void ReportsMistakes(string yaml, string field, string message)
    {
        var result = Read(yaml);
        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("d: { address: 'http://127.0.0.1:1', priority: -1 }", "clusters.c.destinations.d.priority", "out of range")]
    [InlineData("d: { address: 'http://127.0.0.1:1', health: /h }", "clusters.c.destinations.d.health", "only applies when the cluster has healthCheck.active")]
    public void ReportsDestinationMistakes(string destination, string field, string message)
    {
        var result = Read(string.Empty, destination);
        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("200", 200, 200)]
    [InlineData("200-399", 200, 399)]
    [InlineData(" 204 - 204 ", 204, 204)]
    public void ParsesStatusRanges(string text, int min, int max)
    {
        Assert.True(YamlConfigReader.TryParseStatusRange(text, out var a, out var b));
        Assert.Equal((min, max), (a, b));
    }
}
