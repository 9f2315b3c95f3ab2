namespace Turnpike.Bandwidth;

/// <summary>
/// A lock-free token bucket of bytes, kept as one word: the theoretical arrival time (GCRA). <c>_tat</c> is the
/// timestamp at which the bucket would be full again; it is never behind "now" by more than it matters, and a take
/// moves it forward by the take's cost in time. Up to <see cref="Burst"/> bytes may go at once after an idle
/// period, then <see cref="BytesPerSecond"/> on average. <see cref="Reserve"/> may go into debt: the caller is told
/// how long to wait, and concurrent callers queue fairly in reservation order.
/// </summary>
internal sealed class TokenBucket
{
    private readonly TimeProvider _time;
    private readonly double _ticksPerByte;
    private readonly long _burstTicks;
    private long _tat;

    public TokenBucket(long bytesPerSecond, long burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _time = time;
        BytesPerSecond = bytesPerSecond;
        Burst = burst;
        _ticksPerByte = (double)time.TimestampFrequency / bytesPerSecond;
        _burstTicks = Cost(burst);
        _tat = time.GetTimestamp(); // starts full
    }

    public long BytesPerSecond { get; }

    public long Burst { get; }

    /// <summary>Bytes that may be taken now without waiting.</summary>
    public long Available
    {
        get
        {
            var now = _time.GetTimestamp();
            var slack = now + _burstTicks - Math.Max(Volatile.Read(ref _tat), now);
            return slack <= 0 ? 0 : Math.Min(Burst, (long)(slack / _ticksPerByte));
        }
    }

    /// <summary>When the bucket refills completely (a timestamp); a bucket at or before "now" is full, i.e. idle.</summary>
    internal long FullAt => Volatile.Read(ref _tat);

    /// <summary>Takes up to <paramref name="bytes"/> that are available now; returns how many were taken (0: empty).</summary>
    public long TryTake(long bytes)
    {
        while (true)
        {
            var tat = Volatile.Read(ref _tat);
            var now = _time.GetTimestamp();
            var start = Math.Max(tat, now);
            var slack = now + _burstTicks - start;
            if (slack <= 0)
            {
                return 0;
            }

            var granted = Math.Min(bytes, (long)(slack / _ticksPerByte));
            if (granted <= 0)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref _tat, start + Cost(granted), tat) == tat)
            {
                return granted;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> (at most <see cref="Burst"/>) now, going into debt if needed, and returns how long
    /// the caller must wait before sending them (zero or less: at once).
    /// </summary>
    public TimeSpan Reserve(long bytes)
    {
        var cost = Cost(Math.Min(bytes, Burst));
        while (true)
        {
            var tat = Volatile.Read(ref _tat);
            var now = _time.GetTimestamp();
            var next = Math.Max(tat, now) + cost;
            if (Interlocked.CompareExchange(ref _tat, next, tat) == tat)
            {
                var waitTicks = next - _burstTicks - now;
                return waitTicks <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)waitTicks / _time.TimestampFrequency);
            }
        }
    }

    /// <summary>Gives back a reservation that was not used (the write was cancelled while waiting).</summary>
    public void Refund(long bytes) => Interlocked.Add(ref _tat, -Cost(Math.Min(bytes, Burst)));

    private long Cost(long bytes) => (long)Math.Ceiling(bytes * _ticksPerByte);
}
