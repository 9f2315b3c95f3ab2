using System.Numerics;

namespace Turnpike.Admin.Dashboard;

/// <summary>
/// A fixed log-linear histogram of latencies in microseconds: exact below 8 µs, then 8 buckets per power of two
/// (at most 12.5 % relative error) up to about 36 minutes. Recording is one <see cref="Interlocked.Increment(ref long)"/>;
/// the dashboard only needs quantiles per second, so no library histogram (and no lock) is needed.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 8;
    private const int MaxLog2 = 31;
    public const int BucketCount = (MaxLog2 - 1) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];

    public static int IndexOf(double seconds)
    {
        var us = seconds * 1_000_000;
        if (!(us >= 1))
        {
            return 0; // also NaN and negatives
        }

        var micros = us >= long.MaxValue ? long.MaxValue : (long)us;
        if (micros < SubBuckets)
        {
            return (int)micros;
        }

        var log = BitOperations.Log2((ulong)micros); // ≥ 3
        var sub = (int)((micros >> (log - 3)) & (SubBuckets - 1));
        return Math.Min(((log - 2) * SubBuckets) + sub, BucketCount - 1);
    }

    /// <summary>Lower bound of bucket <paramref name="index"/> in microseconds, and its width.</summary>
    public static (double Lower, double Width) BoundsOf(int index)
    {
        if (index < SubBuckets)
        {
            return (index, 1);
        }

        var log = (index / SubBuckets) + 2;
        var sub = index % SubBuckets;
        var width = 1L << (log - 3);
        return ((SubBuckets + sub) * (double)width, width);
    }

    public void Record(double seconds) => Interlocked.Increment(ref _counts[IndexOf(seconds)]);

    /// <summary>Copies the counts into <paramref name="into"/> and zeroes them (each bucket atomically).</summary>
    public long Drain(long[] into)
    {
        long total = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            var n = Interlocked.Exchange(ref _counts[i], 0);
            into[i] = n;
            total += n;
        }

        return total;
    }

    /// <summary>
    /// Quantile <paramref name="q"/> (0..1) in milliseconds of the counts in <paramref name="counts"/> holding
    /// <paramref name="total"/> values, interpolated within the bucket; 0 when empty.
    /// </summary>
    public static double QuantileMs(long[] counts, long total, double q)
    {
        if (total <= 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            var n = counts[i];
            if (n == 0)
            {
                continue;
            }

            if (seen + n >= rank)
            {
                var (lower, width) = BoundsOf(i);
                var within = (rank - seen) / (double)n;
                return (lower + (width * within)) / 1000.0;
            }

            seen += n;
        }

        var (last, lastWidth) = BoundsOf(counts.Length - 1);
        return (last + lastWidth) / 1000.0;
    }
}
