namespace Turnpike.Tools.Bench;

/// <summary>
/// When each connection of an event loop may send its next request, in timestamps of one clock (Stopwatch ticks in a
/// run, virtual ticks in tests). Closed model: at once after an answer, <see cref="RetryDelayTicks"/> after an error.
/// Open model: request k of slot i is due at <c>start + (k·slots + i) / rate</c> (<see cref="RunControl.IntendedTime"/>),
/// whatever happened before; a request that leaves after its due time is timed from it (coordinated-omission
/// correction). The loop sleeps only until the earliest due time (<see cref="WaitTicks"/>), so there is no timer and
/// no thread hop per request. Wake-ups are batched: whenever the loop is awake (an answer arrived, or a send was due)
/// it also sends the requests due within the next <see cref="BatchTicks"/> (open model: 1 ms). Each sleep and wake-up
/// costs tens of µs of CPU on a virtual machine, far more than a request, and this halves their number at 1000 req/s;
/// an early request is timed from its actual send (it never waited, so there is nothing to correct), and the rate
/// is unchanged because every slot keeps its place on the schedule.
/// </summary>
internal sealed class PaceSchedule
{
    private readonly long _start;
    private readonly double _ticksPerRequest;
    private readonly int _totalSlots;
    private readonly int[] _slots;
    private readonly long[] _due;
    private readonly long[] _sequence;

    /// <param name="slots">The run-wide slot number of each of this loop's connections.</param>
    /// <param name="batch">Open model: how early a request may leave when the loop is awake anyway (default 1 ms).</param>
    public PaceSchedule(long start, long frequency, double? rate, int totalSlots, int[] slots, TimeSpan? batch = null)
    {
        _start = start;
        _ticksPerRequest = rate is { } r ? frequency / r : 0;
        _totalSlots = totalSlots;
        _slots = slots;
        _due = new long[slots.Length];
        _sequence = new long[slots.Length];
        RetryDelayTicks = frequency / 100;
        BatchTicks = rate is null ? 0 : (long)((batch ?? TimeSpan.FromMilliseconds(1)).TotalSeconds * frequency);
        for (var i = 0; i < slots.Length; i++)
        {
            _due[i] = IsOpenModel ? Intended(i) : start;
        }
    }

    public bool IsOpenModel => _ticksPerRequest > 0;

    /// <summary>Closed model: pause after an error before the next try (10 ms), so a broken target is not hammered.</summary>
    public long RetryDelayTicks { get; }

    public int Count => _slots.Length;

    /// <summary>Open model: how long before its due time a request may leave when the loop is awake (0: closed model).</summary>
    public long BatchTicks { get; }

    /// <summary>Whether connection <paramref name="index"/> may send at <paramref name="now"/> (due, or due within the batch window).</summary>
    public bool IsDue(int index, long now) => _due[index] - BatchTicks <= now;

    /// <summary>When connection <paramref name="index"/> may send next.</summary>
    public long DueAt(int index) => _due[index];

    /// <summary>The intended send time of connection <paramref name="index"/>'s current request (open model).</summary>
    public long Intended(int index) => _start + (long)(((_sequence[index] * _totalSlots) + _slots[index]) * _ticksPerRequest);

    /// <summary>
    /// The request leaves at <paramref name="now"/>: where its latency is measured from. Open model: its intended time
    /// (it may be late, never early); closed model: now.
    /// </summary>
    public long MeasureFrom(int index, long now) => IsOpenModel ? Math.Min(Intended(index), now) : now;

    /// <summary>The request of connection <paramref name="index"/> ended (answered, or failed); schedules the next.</summary>
    public void Completed(int index, long now, bool failed)
    {
        if (IsOpenModel)
        {
            _sequence[index]++;
            _due[index] = Intended(index);
        }
        else
        {
            _due[index] = failed ? now + RetryDelayTicks : now;
        }
    }

    /// <summary>
    /// Ticks from <paramref name="now"/> until the earliest due time among <paramref name="idle"/> connections (0: one
    /// is due), capped at <paramref name="cap"/>. The loop sleeps to the due time itself, not to the start of its batch
    /// window: a sleep does not make requests early, only a wake-up for something else does.
    /// </summary>
    public long WaitTicks(long now, ReadOnlySpan<bool> idle, long cap)
    {
        var wait = cap;
        for (var i = 0; i < _due.Length; i++)
        {
            if (idle[i])
            {
                var w = _due[i] - now;
                if (w <= 0)
                {
                    return 0;
                }

                if (w < wait)
                {
                    wait = w;
                }
            }
        }

        return wait;
    }
}
