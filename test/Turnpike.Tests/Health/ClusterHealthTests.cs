using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Turnpike.CircuitBreaking;
using Turnpike.Configuration;
using Turnpike.Health;
using Turnpike.LoadBalancing;
using Turnpike.Model;
using static Turnpike.Tests.LoadBalancing.LoadBalancingTestData;

namespace Turnpike.Tests.Health;

public sealed class ClusterHealthTests
{
    private readonly FakeTimeProvider _time = new();

    private static readonly PassiveHealthCheckConfig Passive = new()
    {
        ConsecutiveFailures = 3,
        BaseEjectionTime = TimeSpan.FromSeconds(10),
        MaxEjectionTime = TimeSpan.FromSeconds(25),
        MaxEjectionPercent = 50,
    };

    private (ClusterHealth Health, DestinationModel[] Destinations) Create(
        HealthCheckConfig health, CircuitBreakerConfig? breaker = null, int[]? priorities = null, int count = 4,
        Func<ActiveHealthCheckConfig, IHealthProbe>? probe = null)
    {
        var destinations = Enumerable.Range(0, count)
            .Select(i => new DestinationModel(new DestinationConfig { Id = $"d{i}", Address = $"http://127.0.0.1:{1000 + i}", Priority = priorities?[i] ?? 0 }))
            .ToArray();
        var config = new ClusterConfig { Id = "c", Destinations = destinations.Select(d => d.Config).ToList(), HealthCheck = health, CircuitBreaker = breaker };
        var cluster = new ClusterHealth(config, destinations, e => new RoundRobinPolicy(), _time, NullLogger.Instance, probe);
        return (cluster, destinations);
    }

    private static string[] Eligible(ClusterHealth health) => health.Selection.Eligible.Select(d => d.Id).ToArray();

    private static void Fail(DestinationModel d, int times)
    {
        for (var i = 0; i < times; i++)
        {
            d.OnStart();
            d.OnEnd(AttemptVerdict.Failure, TimeSpan.FromMilliseconds(1));
        }
    }

    [Fact]
    public void WithoutHealthSettingsEveryDestinationIsEligibleAndUntracked()
    {
        var (health, d) = Create(new HealthCheckConfig());
        Fail(d[0], 100);
        Assert.Equal(["d0", "d1", "d2", "d3"], Eligible(health));
        Assert.Null(d[0].Health);
    }

    [Fact]
    public void ConsecutiveFailuresEjectForTheBaseTimeThenTheDestinationReturns()
    {
        var (health, d) = Create(new HealthCheckConfig { Passive = Passive });
        Fail(d[1], 2);
        d[1].OnEnd(AttemptVerdict.Success, TimeSpan.Zero); // streak broken
        Fail(d[1], 2);
        Assert.Equal(["d0", "d1", "d2", "d3"], Eligible(health));

        Fail(d[1], 1);
        Assert.Equal(["d0", "d2", "d3"], Eligible(health));
        _time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(["d0", "d2", "d3"], Eligible(health));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(["d0", "d1", "d2", "d3"], Eligible(health));
    }

    [Fact]
    public void ClientFaultsDoNotCountAgainstTheDestination()
    {
        var (health, d) = Create(new HealthCheckConfig { Passive = Passive });
        for (var i = 0; i < 10; i++)
        {
            d[0].OnStart();
            d[0].OnEnd(AttemptVerdict.ClientFault, TimeSpan.Zero);
        }

        Assert.Equal(4, health.Selection.Eligible.Length);
    }

    [Fact]
    public void RepeatedEjectionsGrowUpToTheMaximumAndDecayWhileHealthy()
    {
        var (health, d) = Create(new HealthCheckConfig { Passive = Passive });
        var lengths = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            Fail(d[0], 3);
            lengths.Add(MeasureEjection(health, "d0"));
        }

        Assert.Equal([10, 20, 25], lengths); // base, 2 × base, capped at 25 s

        // The multiplier is 3; serving for two base times forgives two ejections, so the next one counts as the
        // second: 20 s. Serving for ten minutes forgives all of them: back to the base time.
        _time.Advance(TimeSpan.FromSeconds(20));
        Fail(d[0], 3);
        Assert.Equal(20, MeasureEjection(health, "d0"));

        _time.Advance(TimeSpan.FromMinutes(10));
        Fail(d[0], 3);
        Assert.Equal(10, MeasureEjection(health, "d0"));
    }

    private double MeasureEjection(ClusterHealth health, string id)
    {
        Assert.DoesNotContain(id, Eligible(health));
        var seconds = 0.0;
        while (!Eligible(health).Contains(id))
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            seconds++;
            Assert.True(seconds < 1000);
        }

        return seconds;
    }

    [Fact]
    public void MaxEjectionPercentKeepsPartOfTheClusterServing()
    {
        var (health, d) = Create(new HealthCheckConfig { Passive = Passive });
        foreach (var destination in d)
        {
            Fail(destination, 3);
        }

        Assert.Equal(2, health.Selection.Eligible.Length); // 50 % of 4
    }

    [Fact]
    public void OneDestinationMayAlwaysBeEjectedEvenAlone()
    {
        var (health, d) = Create(new HealthCheckConfig { Passive = Passive with { MaxEjectionPercent = 0 } }, count: 1);
        Fail(d[0], 3);
        Assert.Empty(health.Selection.Eligible);
    }

    [Fact]
    public void FailureRateEjectsWithoutConsecutiveFailures()
    {
        var passive = Passive with
        {
            ConsecutiveFailures = 0,
            FailureRate = new FailureRateConfig { Threshold = 0.5, MinRequests = 10, Window = TimeSpan.FromSeconds(10) },
        };
        var (health, d) = Create(new HealthCheckConfig { Passive = passive });
        for (var i = 0; i < 9; i++)
        {
            d[2].OnStart();
            d[2].OnEnd(i % 2 == 0 ? AttemptVerdict.Failure : AttemptVerdict.Success, TimeSpan.Zero);
        }

        Assert.Contains("d2", Eligible(health)); // 5 of 9, under the minimum of 10
        Fail(d[2], 1);
        Assert.DoesNotContain("d2", Eligible(health));
    }

    [Fact]
    public void OpenBreakerRemovesTheDestinationUntilHalfOpen()
    {
        var breaker = new CircuitBreakerConfig { ConsecutiveFailures = 2, BreakDuration = TimeSpan.FromSeconds(5), HalfOpenRequests = 1, SuccessThreshold = 1 };
        var (health, d) = Create(new HealthCheckConfig(), breaker);
        Fail(d[3], 2);
        Assert.Equal(CircuitState.Open, d[3].Health!.Breaker!.State);
        Assert.Equal(["d0", "d1", "d2"], Eligible(health));

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitState.HalfOpen, d[3].Health!.Breaker!.State);
        Assert.Contains("d3", Eligible(health));
    }

    [Fact]
    public void LowerPriorityTierServesOnlyWhenTheBetterOneHasNone()
    {
        var (health, d) = Create(new HealthCheckConfig { Passive = Passive with { MaxEjectionPercent = 100 } }, priorities: [0, 0, 1, 2]);
        Assert.Equal(["d0", "d1"], Eligible(health));
        Fail(d[0], 3);
        Assert.Equal(["d1"], Eligible(health));
        Fail(d[1], 3);
        Assert.Equal(["d2"], Eligible(health));
        Fail(d[2], 3);
        Assert.Equal(["d3"], Eligible(health));
        Fail(d[3], 3);
        Assert.Empty(Eligible(health));

        _time.Advance(Passive.BaseEjectionTime);
        Assert.Equal(["d0", "d1"], Eligible(health));
    }

    [Fact]
    public void ProbesFlipStateOnlyAfterTheThresholdInARow()
    {
        var active = new ActiveHealthCheckConfig { HealthyThreshold = 2, UnhealthyThreshold = 3 };
        var (health, d) = Create(new HealthCheckConfig { Active = active });
        var member = health.Members[0];

        health.OnProbe(member, passed: false, active);
        health.OnProbe(member, passed: false, active);
        health.OnProbe(member, passed: true, active); // streak broken
        health.OnProbe(member, passed: false, active);
        health.OnProbe(member, passed: false, active);
        Assert.Contains("d0", Eligible(health));
        health.OnProbe(member, passed: false, active);
        Assert.DoesNotContain("d0", Eligible(health));

        health.OnProbe(member, passed: true, active);
        Assert.DoesNotContain("d0", Eligible(health));
        health.OnProbe(member, passed: true, active);
        Assert.Contains("d0", Eligible(health));
    }

    [Fact]
    public async Task ActiveCheckerProbesEveryIntervalOnTheInjectedClock()
    {
        var active = new ActiveHealthCheckConfig { Interval = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(1), HealthyThreshold = 1, UnhealthyThreshold = 2 };
        var probe = new ScriptedProbe();
        probe.Down.Add("d1");
        var (health, _) = Create(new HealthCheckConfig { Active = active }, count: 2, probe: _ => probe);
        health.Start();
        try
        {
            await probe.WaitForRoundsAsync(1); // the first round runs at start
            Assert.Contains("d1", Eligible(health)); // one failure is not enough

            _time.Advance(TimeSpan.FromSeconds(5));
            await probe.WaitForRoundsAsync(2);
            await WaitUntil(() => !Eligible(health).Contains("d1"));

            probe.Down.Clear();
            _time.Advance(TimeSpan.FromSeconds(5));
            await probe.WaitForRoundsAsync(3);
            await WaitUntil(() => Eligible(health).Contains("d1"));
            Assert.Equal(3, probe.Rounds);
        }
        finally
        {
            health.Dispose();
            await health.ActiveCompletion;
        }
    }

    [Fact]
    public async Task AProbeThatHangsPastTheTimeoutFails()
    {
        var active = new ActiveHealthCheckConfig { Interval = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(1), UnhealthyThreshold = 1 };
        var probe = new ScriptedProbe { Hang = true };
        var (health, _) = Create(new HealthCheckConfig { Active = active }, count: 1, probe: _ => probe);
        health.Start();
        try
        {
            await WaitUntil(() => probe.Started >= 1);
            _time.Advance(TimeSpan.FromSeconds(1));
            await WaitUntil(() => Eligible(health).Length == 0);
        }
        finally
        {
            health.Dispose();
            await health.ActiveCompletion;
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Waits for the checker's background task, not for time: the clock is fake.
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    private sealed class ScriptedProbe : IHealthProbe
    {
        private int _probes;
        private int _started;

        public HashSet<string> Down { get; } = [];

        public bool Hang { get; init; }

        public int Started => Volatile.Read(ref _started);

        public int Rounds => Volatile.Read(ref _probes) / 2;

        public async Task<bool> ProbeAsync(DestinationModel destination, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _started);
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            var passed = !Down.Contains(destination.Id);
            Interlocked.Increment(ref _probes);
            return passed;
        }

        public Task WaitForRoundsAsync(int rounds) => WaitUntil(() => Rounds >= rounds);
    }
}
