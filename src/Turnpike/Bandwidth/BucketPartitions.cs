using System.Collections.Concurrent;

namespace Turnpike.Bandwidth;

/// <summary>
/// One <see cref="TokenBucket"/> per client key, at most <c>maxClients</c> of them. Lookups are lock-free reads; a new
/// key adds one bucket. When the map grows past its bound, one caller (the others go on) evicts idle buckets — full
/// ones, whose loss changes nothing since a new bucket starts full — and then, while still over, the less recently
/// used half by bucket clock. A request that holds an evicted bucket finishes on it.
/// </summary>
internal sealed class BucketPartitions<TKey>(long bytesPerSecond, long burst, int maxClients, TimeProvider time)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TokenBucket> _buckets = new();
    private int _count;
    private int _sweeping;

    public int Count => Volatile.Read(ref _count);

    public TokenBucket For(TKey key)
    {
        if (_buckets.TryGetValue(key, out var bucket))
        {
            return bucket;
        }

        bucket = new TokenBucket(bytesPerSecond, burst, time);
        var stored = _buckets.GetOrAdd(key, bucket);
        if (ReferenceEquals(stored, bucket) && Interlocked.Increment(ref _count) > maxClients)
        {
            Sweep();
        }

        return stored;
    }

    private void Sweep()
    {
        if (Interlocked.CompareExchange(ref _sweeping, 1, 0) != 0)
        {
            return;
        }

        try
        {
            var now = time.GetTimestamp();
            var cutoff = now;
            for (var round = 0; round < 16 && Volatile.Read(ref _count) > maxClients; round++)
            {
                // Round 0 drops full buckets; later rounds drop those whose clock is at or below the mean of the rest.
                double sum = 0;
                var n = 0;
                foreach (var (key, b) in _buckets)
                {
                    if (b.FullAt <= cutoff && _buckets.TryRemove(new KeyValuePair<TKey, TokenBucket>(key, b)))
                    {
                        Interlocked.Decrement(ref _count);
                    }
                    else
                    {
                        sum += b.FullAt;
                        n++;
                    }
                }

                if (n == 0)
                {
                    break;
                }

                cutoff = (long)(sum / n);
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }
}
