namespace Turnpike.Tools.Bench;

/// <summary>
/// <c>--compare URL2</c>: the same load against two targets in alternating rounds (a, b, a, b …; each round gets
/// duration / rounds or requests / rounds), so that drift of a shared, noisy machine hits both alike.
/// </summary>
public sealed class BenchComparer
{
    public BenchComparer(BenchOptions a, BenchOptions b, int rounds)
    {
        if (rounds is < 1 or > 100)
        {
            throw new BenchException("--rounds must be between 1 and 100");
        }

        Rounds = rounds;
        A = new BenchRunner(PerRound(a, rounds));
        B = new BenchRunner(PerRound(b, rounds));
    }

    public int Rounds { get; }

    public BenchRunner A { get; }

    public BenchRunner B { get; }

    /// <summary>Which runner is running now (for the progress line).</summary>
    public BenchRunner? Current { get; private set; }

    public async Task<BenchComparison> RunAsync(CancellationToken cancellationToken = default)
    {
        for (var round = 0; round < Rounds; round++)
        {
            // Alternate which target goes first, so neither always runs on a machine the other just warmed.
            var (first, second) = round % 2 == 0 ? (A, B) : (B, A);
            Current = first;
            await first.RunAsync(cancellationToken).ConfigureAwait(false);
            Current = second;
            await second.RunAsync(cancellationToken).ConfigureAwait(false);
        }

        Current = null;
        return Compare(A.GetResult(), B.GetResult(), Rounds);
    }

    public static BenchComparison Compare(BenchResult a, BenchResult b, int rounds) => new()
    {
        Rounds = rounds,
        A = a,
        B = b,
        Ratio = new Dictionary<string, double>
        {
            ["throughput"] = Ratio(b.Throughput, a.Throughput),
            ["p50"] = Ratio(b.Latency.P50, a.Latency.P50),
            ["p99"] = Ratio(b.Latency.P99, a.Latency.P99),
            ["cpuMicrosPerOperation"] = Ratio(b.Process.CpuMicrosPerOperation, a.Process.CpuMicrosPerOperation),
        },
    };

    private static double Ratio(double x, double y) => y > 0 ? Math.Round(x / y, 3) : 0;

    private static BenchOptions PerRound(BenchOptions options, int rounds) => options with
    {
        Duration = options.Duration is { } d ? d / rounds : null,
        Requests = options.Requests is { } n ? Math.Max(1, n / rounds) : null,
    };
}
