using Turnpike.Configuration;

namespace Turnpike.Concurrency;

/// <summary>
/// What one sample window saw: completed attempts, their average latency, failures and the in-flight peak; for a
/// minRTT measurement also the median latency (0 otherwise).
/// </summary>
internal readonly record struct WindowStats(int Count, double AverageMicros, int Failures, int PeakInFlight, double MedianMicros = 0);

/// <summary>
/// Turns sample windows into a concurrency limit. Only ever called by the one thread that closes a window (the
/// <see cref="AdaptiveConcurrencyLimiter"/> guarantees it), so its state needs no synchronisation of its own.
/// </summary>
internal abstract class LimitAlgorithm(AdaptiveConcurrencyConfig config)
{
    protected AdaptiveConcurrencyConfig Config { get; } = config;

    /// <summary>The estimated limit (fractional; requests see it rounded down, never below <c>minLimit</c>).</summary>
    public double Limit { get; protected set; } = config.InitialLimit;

    /// <summary>True while the algorithm measures its no-load latency at <c>minLimit</c> concurrency.</summary>
    public virtual bool Measuring => false;

    /// <summary>Samples the current window needs before it may close.</summary>
    public virtual int RequiredSamples => Config.MinSamples;

    /// <summary>Whether the window must also last <c>sampleWindow</c> before it closes.</summary>
    public virtual bool TimedWindow => true;

    /// <summary>The limit admission uses now.</summary>
    public int Effective => Measuring ? Config.MinLimit : (int)Math.Clamp(Limit, Config.MinLimit, Config.MaxLimit);

    public abstract void OnWindow(in WindowStats window, long now, TimeProvider time);

    protected double Clamp(double limit) => Math.Clamp(limit, Config.MinLimit, Config.MaxLimit);

    public static LimitAlgorithm Create(AdaptiveConcurrencyConfig config, TimeProvider time) => config.Algorithm switch
    {
        ConcurrencyAlgorithm.Aimd => new AimdLimit(config),
        _ => new GradientLimit(config),
    };
}

/// <summary>
/// Envoy's gradient controller (as Netflix Gradient2): gradient = clamp(minRTT·(1+buffer) / sampleRTT, 0.5, 2);
/// limit = limit·gradient + √(limit·gradient). minRTT is the median latency measured at <c>minLimit</c>
/// concurrency (Envoy's default <c>sample_aggregate_percentile</c>: a few cold-start attempts — connects, first
/// JIT — must not set it for a whole interval), first at start and again every <c>minRttInterval</c>. The limit only grows while it is in use
/// (the window's in-flight peak reached half of it), so an idle cluster does not inflate it.
/// </summary>
internal sealed class GradientLimit(AdaptiveConcurrencyConfig config) : LimitAlgorithm(config)
{
    private bool _measuring = true;
    private long _nextMeasure;

    public override bool Measuring => _measuring;

    public override int RequiredSamples => _measuring ? Config.MinRttSamples : Config.MinSamples;

    public override bool TimedWindow => !_measuring;

    /// <summary>The last measured no-load latency in microseconds (0 before the first measurement).</summary>
    public double MinRttMicros { get; private set; }

    public override void OnWindow(in WindowStats window, long now, TimeProvider time)
    {
        if (_measuring)
        {
            MinRttMicros = Math.Max(1, window.MedianMicros > 0 ? window.MedianMicros : window.AverageMicros);
            _measuring = false;
            _nextMeasure = now + (long)(Config.MinRttInterval.TotalSeconds * time.TimestampFrequency);
            return;
        }

        var gradient = Math.Clamp(MinRttMicros * (1 + Config.Buffer) / Math.Max(1, window.AverageMicros), 0.5, 2.0);
        if (gradient < 1 || window.PeakInFlight * 2 >= Limit)
        {
            var scaled = Limit * gradient;
            Limit = Clamp(scaled + Math.Sqrt(scaled));
        }

        if (now >= _nextMeasure)
        {
            _measuring = true; // the limit resumes where it was once minRTT is known again
        }
    }
}

/// <summary>
/// Additive increase, multiplicative decrease per window (Netflix AIMD, in batches): a window with a failed attempt
/// (timeout, 5xx, connect failure) or an average latency above <c>latencyThreshold</c> multiplies the limit by
/// <c>backoffRatio</c>; a good window in which the limit was in use (in-flight peak at least half of it) adds
/// <c>increase</c>.
/// </summary>
internal sealed class AimdLimit(AdaptiveConcurrencyConfig config) : LimitAlgorithm(config)
{
    private readonly double _thresholdMicros = config.LatencyThreshold.TotalMicroseconds;

    public override void OnWindow(in WindowStats window, long now, TimeProvider time)
    {
        if (window.Failures > 0 || window.AverageMicros > _thresholdMicros)
        {
            Limit = Clamp(Limit * Config.BackoffRatio);
        }
        else if (window.PeakInFlight * 2 >= Limit)
        {
            Limit = Clamp(Limit + Config.Increase);
        }
    }
}
