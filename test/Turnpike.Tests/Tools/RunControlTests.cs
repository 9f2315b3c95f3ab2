using System.Diagnostics;
using Turnpike.Tools.Bench;

namespace Turnpike.Tests.Tools;

public class RunControlTests
{
    private static BenchOptions Options(double? rate, long? requests = null) =>
        new() { Urls = [new Uri("http://127.0.0.1:1/")], Rate = rate, Requests = requests, Duration = TimeSpan.FromMinutes(1) };

    [Fact]
    public void Open_model_schedule_interleaves_the_loops_at_exactly_the_rate()
    {
        using var control = new RunControl(Options(rate: 1000), slots: 4, CancellationToken.None);
        var ms = Stopwatch.Frequency / 1000.0;

        // Request k of loop i is due at start + (k·slots + i) / rate: loop 1's third request is the 10th overall.
        Assert.Equal(control.Start, control.IntendedTime(0, 0));
        Assert.Equal(control.Start + (long)(1 * ms), control.IntendedTime(1, 0));
        Assert.Equal(control.Start + (long)(9 * ms), control.IntendedTime(1, 2));

        // Over all loops, slots are exactly 1 ms apart: 1000 per second.
        var times = new List<long>();
        for (var k = 0; k < 5; k++)
        {
            for (var i = 0; i < 4; i++)
            {
                times.Add(control.IntendedTime(i, k));
            }
        }

        times.Sort();
        for (var n = 1; n < times.Count; n++)
        {
            Assert.InRange(times[n] - times[n - 1], (long)ms - 1, (long)ms + 1);
        }
    }

    [Fact]
    public void Request_budget_is_shared_and_exact()
    {
        using var control = new RunControl(Options(rate: null, requests: 3), slots: 2, CancellationToken.None);
        Assert.False(control.IsOpenModel);
        Assert.True(control.TryTake());
        Assert.True(control.TryTake());
        Assert.True(control.TryTake());
        Assert.False(control.TryTake());
    }

    [Fact]
    public void Stop_ends_the_budget()
    {
        using var control = new RunControl(Options(rate: null), slots: 1, CancellationToken.None);
        Assert.True(control.TryTake());
        control.Stop();
        Assert.True(control.IsStopping);
        Assert.False(control.TryTake());
    }

    [Fact]
    public void Comparison_ratios_are_second_over_first()
    {
        static BenchResult Result(double throughput, double p50, double p99, double cpu) => new()
        {
            Name = "x",
            Timestamp = DateTimeOffset.UnixEpoch,
            Target = "http://127.0.0.1/",
            Urls = ["http://127.0.0.1/"],
            Protocol = "http1",
            Model = "closed",
            Method = "GET",
            Throughput = throughput,
            Latency = new LatencySummary { P50 = p50, P99 = p99 },
            LatencyUncorrected = new LatencySummary(),
            StatusCodes = new Dictionary<string, long>(),
            Errors = new ErrorCounts(),
            Process = new ProcessUsage { CpuMicrosPerOperation = cpu },
        };

        var c = BenchComparer.Compare(Result(1000, 1, 4, 10), Result(800, 1.5, 6, 12), rounds: 3);
        Assert.Equal(0.8, c.Ratio["throughput"]);
        Assert.Equal(1.5, c.Ratio["p50"]);
        Assert.Equal(1.5, c.Ratio["p99"]);
        Assert.Equal(1.2, c.Ratio["cpuMicrosPerOperation"]);
        Assert.Equal(3, c.Rounds);
    }
}
