using Turnpike.Configuration;

namespace Turnpike.Concurrency;

/// <summary>How an admitted attempt ended, for the limiter.</summary>
internal enum ConcurrencyOutcome
{
    /// <summary>An answer below 500.</summary>
    Success,
    /// <summary>A 5xx, a timeout, a reset or a connect failure: a sample, and a bad window for AIMD.</summary>
    Failure,
    /// <summary>The client's fault, or never sent: no sample.</summary>
    Ignore,
}

/// <summary>
/// A cluster's adaptive concurrency limit. Admission is lock-free: one <see cref="Interlocked.Increment(ref long)"/>
/// of the in-flight counter against the published limit (a volatile int), and attempts over it are refused at once.
/// Completed attempts add their latency to the current window with one <see cref="Interlocked.Add(ref long, long)"/>
/// (count and microsecond sum packed in one word); the attempt that finds the window over (long enough and with
/// enough samples) wins a compare-and-swap and alone runs the <see cref="LimitAlgorithm"/> and publishes the new limit.
/// During a minRTT measurement (gradient) each sample also takes a slot of a fixed array, for the median.
/// </summary>
internal sealed class AdaptiveConcurrencyLimiter
{
    private const int CountShift = 44;
    private const long SumMask = (1L << CountShift) - 1;
    private const long MaxSampleMicros = 1L << 32;

    private readonly TimeProvider _time;
    private readonly LimitAlgorithm _algorithm;
    private readonly long _windowTicks;
    private long _inFlight;
    private long _admitted;
    private long _shed;
    private long _window;
    private int _failures;
    private int _peak;
    private long _windowStart;
    private long _measureStart;
    private int _limit;
    private int _closing;
    private double _lastSampleMicros;
    private long _windows;
    private readonly long[]? _measured;
    private int _measuredNext;

    public AdaptiveConcurrencyLimiter(AdaptiveConcurrencyConfig config, TimeProvider time)
    {
        Config = config;
        _time = time;
        _algorithm = LimitAlgorithm.Create(config, time);
        _windowTicks = (long)(config.SampleWindow.TotalSeconds * time.TimestampFrequency);
        _windowStart = _measureStart = time.GetTimestamp();
        _limit = _algorithm.Effective;
        _measured = _algorithm is GradientLimit ? new long[config.MinRttSamples] : null;
    }

    public AdaptiveConcurrencyConfig Config { get; }

    public int Limit => Volatile.Read(ref _limit);

    public long InFlight => Volatile.Read(ref _inFlight);

    public long Admitted => Volatile.Read(ref _admitted);

    public long Shed => Volatile.Read(ref _shed);

    /// <summary>Sample windows closed so far (each one a limit update).</summary>
    public long Windows => Volatile.Read(ref _windows);

    /// <summary>Gradient only: the no-load latency in milliseconds (null before it was measured, and for AIMD).</summary>
    public double? MinRttMs => _algorithm is GradientLimit { MinRttMicros: > 0 and var us } ? us / 1000 : null;

    /// <summary>The last closed window's average latency in milliseconds.</summary>
    public double SampleRttMs => Volatile.Read(ref _lastSampleMicros) / 1000;

    /// <summary>Gradient only: true while minRTT is being measured at <c>minLimit</c> concurrency.</summary>
    public bool Measuring => _algorithm.Measuring;

    /// <summary>Admits an attempt, or refuses it (false) when the cluster is at its limit. Admitted attempts must be released.</summary>
    public bool TryAcquire()
    {
        var n = Interlocked.Increment(ref _inFlight);
        if (n > Volatile.Read(ref _limit))
        {
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _shed);
            return false;
        }

        Interlocked.Increment(ref _admitted);
        if (n > Volatile.Read(ref _peak))
        {
            RaisePeak((int)n);
        }

        return true;
    }

    /// <summary>Ends an admitted attempt that started at <paramref name="started"/> and took <paramref name="latency"/>.</summary>
    public void Release(long started, TimeSpan latency, ConcurrencyOutcome outcome)
    {
        Interlocked.Decrement(ref _inFlight);
        if (outcome == ConcurrencyOutcome.Ignore)
        {
            return;
        }

        // While minRTT is measured, attempts admitted under the previous, higher limit say nothing about no-load latency.
        if (_algorithm.Measuring && started < Volatile.Read(ref _measureStart))
        {
            return;
        }

        if (outcome == ConcurrencyOutcome.Failure)
        {
            Interlocked.Increment(ref _failures);
        }

        var micros = Math.Clamp((long)latency.TotalMicroseconds, 1, MaxSampleMicros);
        if (_measured is not null && _algorithm.Measuring)
        {
            var slot = Interlocked.Increment(ref _measuredNext) - 1;
            if (slot < _measured.Length)
            {
                Volatile.Write(ref _measured[slot], micros);
            }
        }

        var packed = Interlocked.Add(ref _window, (1L << CountShift) + micros);
        if ((int)(packed >> CountShift) < _algorithm.RequiredSamples)
        {
            return;
        }

        var now = _time.GetTimestamp();
        if (_algorithm.TimedWindow && now - Volatile.Read(ref _windowStart) < _windowTicks)
        {
            return;
        }

        CloseWindow(now);
    }

    private void CloseWindow(long now)
    {
        if (Interlocked.CompareExchange(ref _closing, 1, 0) != 0)
        {
            return; // another attempt is closing it
        }

        try
        {
            var packed = Volatile.Read(ref _window);
            var count = (int)(packed >> CountShift);
            if (count < _algorithm.RequiredSamples)
            {
                return; // closed a moment ago by someone else
            }

            packed = Interlocked.Exchange(ref _window, 0);
            count = (int)(packed >> CountShift);
            var stats = new WindowStats(
                count,
                (double)(packed & SumMask) / count,
                Interlocked.Exchange(ref _failures, 0),
                Interlocked.Exchange(ref _peak, (int)Volatile.Read(ref _inFlight)),
                _algorithm.Measuring ? MeasuredMedian() : 0);
            var wasMeasuring = _algorithm.Measuring;
            _algorithm.OnWindow(stats, now, _time);
            Volatile.Write(ref _lastSampleMicros, stats.AverageMicros);
            if (_algorithm.Measuring && !wasMeasuring)
            {
                Array.Clear(_measured!);
                Volatile.Write(ref _measuredNext, 0);
                Volatile.Write(ref _measureStart, now);
            }

            Volatile.Write(ref _windowStart, now);
            Volatile.Write(ref _limit, _algorithm.Effective);
            Interlocked.Increment(ref _windows);
        }
        finally
        {
            Volatile.Write(ref _closing, 0);
        }
    }

    /// <summary>The median of the measurement's samples (slots taken but not yet written are left out); 0 if none.</summary>
    private double MeasuredMedian()
    {
        var taken = Math.Min(Volatile.Read(ref _measuredNext), _measured!.Length);
        var values = new long[taken]; // once per measurement (at start, then every minRttInterval), not per attempt
        var n = 0;
        for (var i = 0; i < taken; i++)
        {
            if (Volatile.Read(ref _measured[i]) is > 0 and var v)
            {
                values[n++] = v;
            }
        }

        if (n == 0)
        {
            return 0;
        }

        Array.Sort(values, 0, n);
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2.0;
    }

    private void RaisePeak(int n)
    {
        var peak = Volatile.Read(ref _peak);
        while (n > peak)
        {
            var seen = Interlocked.CompareExchange(ref _peak, n, peak);
            if (seen == peak)
            {
                return;
            }

            peak = seen;
        }
    }
}

/// <summary>Maps attempt verdicts to limiter outcomes.</summary>
internal static class Limits
{
    public static ConcurrencyOutcome OutcomeOf(Model.AttemptVerdict verdict) => verdict switch
    {
        Model.AttemptVerdict.Success => ConcurrencyOutcome.Success,
        Model.AttemptVerdict.Failure => ConcurrencyOutcome.Failure,
        _ => ConcurrencyOutcome.Ignore,
    };
}
