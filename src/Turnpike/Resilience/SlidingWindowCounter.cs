namespace Turnpike.Resilience;

/// <summary>
/// A few counters summed over a sliding time window, lock-free: the window is cut into buckets, each stamped with the
/// bucket-sized slice of time it counts. Adding to a bucket whose stamp is stale claims it with one compare-exchange
/// and clears it. Used for failure ratios (circuit breaker, outlier detection) and the retry budget.
/// </summary>
/// <remarks>
/// Counts are approximate at bucket boundaries: an add racing with the clearing of its bucket can be lost, and a sum
/// sees the oldest bucket whole until it expires. Both errors are bounded by one bucket's worth of traffic.
/// </remarks>
internal sealed class SlidingWindowCounter
{
    private readonly TimeProvider _time;
    private readonly int _buckets;
    private readonly int _counters;
    private readonly long _bucketTicks;
    private readonly long[] _stamps;
    private readonly long[] _values;

    public SlidingWindowCounter(TimeProvider time, TimeSpan window, int counters, int buckets = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(counters, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        _time = time;
        _buckets = buckets;
        _counters = counters;
        Window = window;
        // Timestamp units per bucket, at least one.
        _bucketTicks = Math.Max(1, (long)(window.TotalSeconds * time.TimestampFrequency / buckets));
        _stamps = new long[buckets];
        _values = new long[buckets * counters];
        Array.Fill(_stamps, long.MinValue);
    }

    public TimeSpan Window { get; }

    public void Add(int counter, long amount = 1)
    {
        var slice = _time.GetTimestamp() / _bucketTicks;
        var bucket = (int)(slice % _buckets);
        var stamp = Volatile.Read(ref _stamps[bucket]);
        if (stamp != slice)
        {
            Claim(bucket, stamp, slice);
        }

        Interlocked.Add(ref _values[bucket * _counters + counter], amount);
    }

    /// <summary>The counter's total over the last window.</summary>
    public long Sum(int counter)
    {
        var slice = _time.GetTimestamp() / _bucketTicks;
        long sum = 0;
        for (var bucket = 0; bucket < _buckets; bucket++)
        {
            var stamp = Volatile.Read(ref _stamps[bucket]);
            // Unsigned: a stamp from the future or the never-used stamp (long.MinValue) falls outside.
            if ((ulong)(slice - stamp) < (ulong)_buckets)
            {
                sum += Volatile.Read(ref _values[bucket * _counters + counter]);
            }
        }

        return sum;
    }

    /// <summary>Forgets everything counted so far.</summary>
    public void Clear()
    {
        for (var bucket = 0; bucket < _buckets; bucket++)
        {
            Volatile.Write(ref _stamps[bucket], long.MinValue);
        }
    }

    private void Claim(int bucket, long stamp, long slice)
    {
        // Only a newer slice may take the bucket over; the winner clears it for everyone.
        if (stamp < slice && Interlocked.CompareExchange(ref _stamps[bucket], slice, stamp) == stamp)
        {
            for (var c = 0; c < _counters; c++)
            {
                Interlocked.Exchange(ref _values[bucket * _counters + c], 0);
            }
        }
    }
}
