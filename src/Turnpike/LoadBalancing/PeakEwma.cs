namespace Turnpike.LoadBalancing;

/// <summary>
/// One destination's "peak EWMA" latency (Finagle/Linkerd): an observed RTT above the average replaces it at once;
/// one below pulls it down with weight <c>w = exp(-Δt/τ)</c> on the old value, Δt being the time since the previous
/// observation and τ the configured decay. Reading the estimate decays it toward zero by the time since the last
/// observation (without writing), so a destination that was slow and then got no traffic is eventually retried and
/// re-measured. A destination never observed reports <see cref="DefaultEstimateMs"/>, small, so new ones get tried.
/// </summary>
/// <remarks>
/// Lock-free without allocation. The state is two longs: the estimate (a double's bits, in milliseconds) and the
/// timestamp of the last observation. They are not updated as one unit — that would need a lock or an allocated
/// immutable pair — and the races are benign: each observation takes its own Δt with
/// <see cref="Interlocked.Exchange(ref long, long)"/> on the timestamp (so concurrent observations split the
/// elapsed time between them instead of counting it twice), then folds its RTT into the estimate with a
/// compare-and-swap loop (so no observation is lost). A reader may see a timestamp a moment newer than the estimate
/// it pairs with, which changes the read-side decay by a few microseconds' worth.
/// </remarks>
internal sealed class PeakEwma
{
    /// <summary>Estimate of a destination not yet observed: 1 ms.</summary>
    internal const double DefaultEstimateMs = 1;

    /// <summary>A failed attempt counts as at least this RTT, so a destination failing fast does not look fast.</summary>
    internal const double FailurePenaltyMs = 1000;

    /// <summary>Floor for a decayed estimate, so in-flight counts still separate idle destinations.</summary>
    private const double MinimumEstimateMs = 0.001;

    private const long NeverObserved = long.MinValue;

    private readonly TimeProvider _time;
    private readonly double _tau;
    private long _estimateBits;
    private long _stamp = NeverObserved;

    public PeakEwma(TimeProvider time, TimeSpan decay)
    {
        _time = time;
        _tau = Math.Max(decay.TotalSeconds, 0.001) * time.TimestampFrequency;
    }

    public TimeProvider TimeProvider => _time;

    /// <summary>Folds in one attempt's RTT, now.</summary>
    public void Observe(TimeSpan rtt, bool failed)
    {
        var sample = rtt.TotalMilliseconds;
        if (failed && sample < FailurePenaltyMs)
        {
            sample = FailurePenaltyMs;
        }

        var now = _time.GetTimestamp();
        var previous = Interlocked.Exchange(ref _stamp, now);
        var w = previous == NeverObserved ? 0 : Math.Exp(-Math.Max(0, now - previous) / _tau);
        while (true)
        {
            var oldBits = Volatile.Read(ref _estimateBits);
            var old = BitConverter.Int64BitsToDouble(oldBits);
            var next = sample > old ? sample : (old * w) + (sample * (1 - w));
            if (Interlocked.CompareExchange(ref _estimateBits, BitConverter.DoubleToInt64Bits(next), oldBits) == oldBits)
            {
                return;
            }
        }
    }

    /// <summary>The estimate in milliseconds at timestamp <paramref name="now"/> (from this estimator's <see cref="TimeProvider"/>).</summary>
    public double EstimateMs(long now)
    {
        var stamp = Volatile.Read(ref _stamp);
        if (stamp == NeverObserved)
        {
            return DefaultEstimateMs;
        }

        var estimate = BitConverter.Int64BitsToDouble(Volatile.Read(ref _estimateBits));
        var age = now - stamp;
        if (age > 0)
        {
            estimate *= Math.Exp(-age / _tau);
        }

        return Math.Max(estimate, MinimumEstimateMs);
    }
}
