using System.Diagnostics;

namespace Turnpike.Tools.Bench;

/// <summary>
/// The bounds of one run, shared by its connection loops: the stop token (cancelled at the duration limit or by the
/// caller), the request budget of <c>--requests</c>, and the open-model schedule.
/// </summary>
internal sealed class RunControl : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly double _ticksPerRequest;
    private readonly int _slots;
    private long _budget;

    public RunControl(BenchOptions options, int slots, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _budget = options.Requests ?? long.MaxValue;
        _slots = slots;
        _ticksPerRequest = options.Rate is { } rate ? Stopwatch.Frequency / rate : 0;
        TimeoutTicks = (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency);
        Start = Stopwatch.GetTimestamp();
        _stop.CancelAfter(options.EffectiveDurationLimit);
    }

    public long Start { get; }

    public long TimeoutTicks { get; }

    public CancellationToken Token => _stop.Token;

    public bool IsStopping => _stop.IsCancellationRequested;

    public bool IsOpenModel => _ticksPerRequest > 0;

    /// <summary>Takes one request from the budget; false once the run is over.</summary>
    public bool TryTake() => !_stop.IsCancellationRequested && Interlocked.Decrement(ref _budget) >= 0;

    public void Stop() => _stop.Cancel();

    /// <summary>
    /// Open model: the intended send time of the <paramref name="sequence"/>-th request of loop <paramref name="slot"/>;
    /// the schedule interleaves the loops so that together they send at exactly the rate.
    /// </summary>
    public long IntendedTime(int slot, long sequence) => Start + (long)(((sequence * _slots) + slot) * _ticksPerRequest);

    /// <summary>
    /// Waits for the next intended send time of this loop (open model) and returns it; in the closed model returns
    /// now. Latency is measured from the intended time when the request leaves late (the previous answer was late:
    /// the coordinated-omission correction), and from the actual send when it leaves early. The timer has
    /// millisecond resolution, so the loop wakes up to <see cref="EarlyWake"/> before its slot and sends then: timer
    /// slack never inflates latency, and the rate is unchanged because the slots themselves stay fixed.
    /// </summary>
    public async ValueTask<long> WaitTurnAsync(int slot, long sequence)
    {
        var now = Stopwatch.GetTimestamp();
        if (!IsOpenModel)
        {
            return now;
        }

        var intended = IntendedTime(slot, sequence);
        var wait = Stopwatch.GetElapsedTime(now, intended) - EarlyWake;
        if (wait >= TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(wait, _stop.Token).ConfigureAwait(false);
        }

        return intended;
    }

    /// <summary>How early a paced request may leave: about the resolution of .NET's timers.</summary>
    public static readonly TimeSpan EarlyWake = TimeSpan.FromMilliseconds(1.5);

    public void Dispose() => _stop.Dispose();
}
