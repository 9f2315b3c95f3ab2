using System.Diagnostics.Metrics;

namespace Turnpike.Admin.Dashboard;

/// <summary>One second of traffic as the dashboard shows it. Latencies in milliseconds; <c>Status</c> counts 1xx..5xx.</summary>
internal sealed record SecondStats(
    long Time,
    long Requests,
    long[] Status,
    double ErrorRate,
    double P50Ms,
    double P95Ms,
    double P99Ms,
    long RateLimited);

/// <summary>
/// The live dashboard's numbers: the last <c>N</c> seconds of request count, status mix, error rate (5xx share),
/// latency p50/p95/p99 and rate-limit rejections, one slot per second.
/// </summary>
/// <remarks>
/// Request data comes only from LISTENING to the gateway's metrics (meter <c>Turnpike</c>, histogram
/// <c>turnpike.request.duration</c> with tag <c>status_class</c>) through a <see cref="MeterListener"/>: the request
/// path records its instruments as it always does, and this class adds one callback that increments a few
/// counters with <see cref="Interlocked"/>. Only meters created by this gateway's <see cref="IMeterFactory"/> are
/// listened to, so several gateways in one process do not mix. A timer on <see cref="TimeProvider"/> closes each
/// second: it swaps the live slot for a clean one, summarizes the old one into the history ring and wakes the
/// SSE streams. A recording that races the swap lands in the next second.
/// </remarks>
internal sealed class LiveStats : IDisposable
{
    public const string MeterName = "Turnpike";
    public const string DurationInstrument = "turnpike.request.duration";
    public const int DefaultSeconds = 300;

    private readonly object? _meterScope;
    private readonly Func<long> _rateLimitRejections;
    private readonly TimeProvider _time;
    private readonly SecondStats?[] _history;
    private readonly long[] _scratch = new long[LatencyHistogram.BucketCount];
    private readonly Lock _tickLock = new();
    private MeterListener? _listener;
    private ITimer? _timer;
    private Slot _live = new();
    private Slot _spare = new();
    private long _ticks;
    private long _lastRejections = -1;
    private TaskCompletionSource _next = NewSignal();
    private volatile bool _disposed;

    /// <param name="meterScope">The <see cref="IMeterFactory"/> whose meters count (a meter's <see cref="Meter.Scope"/>); null: any.</param>
    /// <param name="rateLimitRejections">Total rate-limit rejections so far (read once per second).</param>
    public LiveStats(object? meterScope, Func<long> rateLimitRejections, TimeProvider time, int seconds = DefaultSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seconds, 2);
        _meterScope = meterScope;
        _rateLimitRejections = rateLimitRejections;
        _time = time;
        _history = new SecondStats?[seconds];
    }

    public int Capacity => _history.Length;

    /// <summary>Starts listening and the once-a-second timer (tests call <see cref="Tick"/> themselves instead).</summary>
    public void Start(bool timer = true)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MeterName && instrument.Name == DurationInstrument
                    && (_meterScope is null || ReferenceEquals(instrument.Meter.Scope, _meterScope)))
                {
                    l.EnableMeasurementEvents(instrument, this);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((LiveStats)state!).OnRequest(value, tags));
        listener.Start();
        _listener = listener;
        _lastRejections = _rateLimitRejections();
        if (timer)
        {
            _timer = _time.CreateTimer(static s => ((LiveStats)s!).Tick(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    private void OnRequest(double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var statusClass = 0;
        foreach (var tag in tags)
        {
            if (tag.Key == "status_class" && tag.Value is string { Length: > 0 } s)
            {
                statusClass = s[0] - '0';
                break;
            }
        }

        Volatile.Read(ref _live).Record(seconds, statusClass);
    }

    /// <summary>Closes the current second: its summary goes into the history and waiting streams wake up.</summary>
    public void Tick()
    {
        TaskCompletionSource signal;
        lock (_tickLock)
        {
            if (_disposed)
            {
                return;
            }

            var closed = Interlocked.Exchange(ref _live, _spare);
            _spare = closed;
            var total = closed.Histogram.Drain(_scratch);
            var status = new long[5];
            for (var i = 0; i < status.Length; i++)
            {
                status[i] = Interlocked.Exchange(ref closed.Status[i + 1], 0);
            }

            var rejections = _rateLimitRejections();
            var rateLimited = Math.Max(0, rejections - _lastRejections);
            _lastRejections = rejections;
            var stats = new SecondStats(
                _time.GetUtcNow().ToUnixTimeSeconds(),
                total,
                status,
                total == 0 ? 0 : Math.Round(status[4] / (double)total, 4),
                Math.Round(LatencyHistogram.QuantileMs(_scratch, total, 0.50), 3),
                Math.Round(LatencyHistogram.QuantileMs(_scratch, total, 0.95), 3),
                Math.Round(LatencyHistogram.QuantileMs(_scratch, total, 0.99), 3),
                rateLimited);
            Volatile.Write(ref _history[_ticks % _history.Length], stats);
            _ticks++;
            signal = Interlocked.Exchange(ref _next, NewSignal());
        }

        signal.TrySetResult();
    }

    /// <summary>The seconds kept so far, oldest first (at most <see cref="Capacity"/>).</summary>
    public List<SecondStats> History()
    {
        lock (_tickLock)
        {
            var count = (int)Math.Min(_ticks, _history.Length);
            var list = new List<SecondStats>(count);
            for (var i = _ticks - count; i < _ticks; i++)
            {
                list.Add(_history[i % _history.Length]!);
            }

            return list;
        }
    }

    /// <summary>The most recent second, or null before the first tick.</summary>
    public SecondStats? Latest
    {
        get
        {
            lock (_tickLock)
            {
                return _ticks == 0 ? null : _history[(_ticks - 1) % _history.Length];
            }
        }
    }

    /// <summary>Completes at the next tick; true then, false when stopped or cancelled.</summary>
    public async Task<bool> WaitForTickAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            return false;
        }

        try
        {
            await Volatile.Read(ref _next).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return !_disposed;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        lock (_tickLock)
        {
            _disposed = true;
        }

        _timer?.Dispose();
        _listener?.Dispose();
        Volatile.Read(ref _next).TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Slot
    {
        public readonly LatencyHistogram Histogram = new();
        public readonly long[] Status = new long[6];

        public void Record(double seconds, int statusClass)
        {
            Histogram.Record(seconds);
            Interlocked.Increment(ref Status[(uint)statusClass < 6 ? statusClass : 0]);
        }
    }
}
