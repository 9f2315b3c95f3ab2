using BenchmarkDotNet.Attributes;
using Turnpike.Bandwidth;
using Turnpike.Concurrency;
using Turnpike.Configuration;

namespace Turnpike.Benchmarks;

/// <summary>
/// What shaping and shedding add per request: the adaptive limiter's admit + release (with a latency sample; a
/// window closes every 10 samples here, so the algorithm's update is included in the average) and the token
/// bucket's take and reserve.
/// </summary>
[MemoryDiagnoser]
public class ShapingBenchmarks
{
    private AdaptiveConcurrencyLimiter _gradient = null!;
    private AdaptiveConcurrencyLimiter _aimd = null!;
    private TokenBucket _bucket = null!;
    private TokenBucket _debt = null!;

    [GlobalSetup]
    public void Setup()
    {
        var config = new AdaptiveConcurrencyConfig { SampleWindow = TimeSpan.FromTicks(1), MinSamples = 10, MinRttSamples = 10, MaxLimit = 100_000, InitialLimit = 1000 };
        _gradient = new AdaptiveConcurrencyLimiter(config, TimeProvider.System);
        _aimd = new AdaptiveConcurrencyLimiter(config with { Algorithm = ConcurrencyAlgorithm.Aimd }, TimeProvider.System);
        // Fast enough never to run dry during the run: measures the take itself, not waiting.
        _bucket = new TokenBucket(long.MaxValue / 1_000_000, long.MaxValue / 1_000_000, TimeProvider.System);
        _debt = new TokenBucket(1024 * 1024, 64 * 1024, TimeProvider.System);
    }

    [Benchmark(Baseline = true)]
    public bool GradientAdmitRelease() => AdmitRelease(_gradient);

    [Benchmark]
    public bool AimdAdmitRelease() => AdmitRelease(_aimd);

    [Benchmark]
    public long BucketTryTake() => _bucket.TryTake(16 * 1024);

    [Benchmark]
    public TimeSpan BucketReserveAndRefund()
    {
        var wait = _debt.Reserve(16 * 1024);
        _debt.Refund(16 * 1024);
        return wait;
    }

    private static bool AdmitRelease(AdaptiveConcurrencyLimiter limiter)
    {
        if (!limiter.TryAcquire())
        {
            return false;
        }

        limiter.Release(long.MaxValue, TimeSpan.FromMilliseconds(1), ConcurrencyOutcome.Success);
        return true;
    }
}
