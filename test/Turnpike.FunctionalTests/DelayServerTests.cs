using Turnpike.Bench.DelayServer;

namespace Turnpike.FunctionalTests;

/// <summary>bench/DelayServer's distribution (no I/O) — its use as a bench target is in <see cref="BenchToolTests"/>.</summary>
public sealed class DelayServerTests
{
    [Fact]
    public void Every_cycle_of_requests_has_the_exact_proportions_spread_evenly()
    {
        var d = DelayDistribution.Parse("2ms:90,20ms:10");
        Assert.Equal(TimeSpan.FromMilliseconds(2), d.Shortest);
        var positions = new List<int>();
        for (var cycle = 0; cycle < 3; cycle++)
        {
            for (var i = 0; i < 100; i++)
            {
                if (d.Next() == TimeSpan.FromMilliseconds(20))
                {
                    positions.Add((cycle * 100) + i);
                }
            }
        }

        // 10 slow requests in every 100, one in every 10: never bunched.
        Assert.Equal(30, positions.Count);
        for (var k = 1; k < positions.Count; k++)
        {
            Assert.Equal(10, positions[k] - positions[k - 1]);
        }
    }

    [Theory]
    [InlineData("500us", 0.5)]
    [InlineData("1.5ms:3", 1.5)]
    [InlineData("1s", 1000)]
    public void Delays_parse_with_units(string text, double ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), DelayDistribution.Parse(text).Next());

    [Theory]
    [InlineData("")]
    [InlineData("2")]
    [InlineData("2ms:0")]
    [InlineData("2ms:x")]
    [InlineData("-1ms")]
    [InlineData("2min")]
    public void Bad_distributions_are_refused(string text) =>
        Assert.Throws<FormatException>(() => DelayDistribution.Parse(text));
}
