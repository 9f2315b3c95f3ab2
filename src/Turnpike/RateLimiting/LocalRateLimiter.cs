using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Turnpike.Configuration;

namespace Turnpike.RateLimiting;

/// <summary>
/// One policy's partitions in this process: a System.Threading.RateLimiting limiter per key in a bounded,
/// lock-free map. <see cref="PartitionedRateLimiter"/> is not used because it takes a lock on every acquire, evicts
/// only after a fixed 10 s and has no cap. Here one timer on the injected <see cref="TimeProvider"/> replenishes the
/// limiters (they run with <c>AutoReplenishment = false</c>, so there is no timer per partition) and drops partitions
/// idle for <see cref="IdleTimeout"/>; at <see cref="RateLimitPolicyConfig.MaxPartitions"/>, requests with new keys
/// share one overflow partition until eviction makes room, so a flood of distinct keys cannot grow memory.
/// </summary>
internal sealed class LocalRateLimiter : IDisposable
{
    private static readonly TimeSpan MaxTick = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MinTick = TimeSpan.FromMilliseconds(5);
    private readonly RateLimitPolicyConfig _config;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Partition> _partitions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Partition>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Partition _overflow;
    private readonly ITimer? _timer;
    private readonly long _idleTicks;
    private readonly long _sweepTicks;
    private long _lastSweep;

    /// <summary>The timestamp of the last tick: what a request records as its partition's last use.</summary>
    private long _now;

    /// <summary>The tick interval in timestamp units (0 without the timer: requests then read the clock).</summary>
    private readonly long _tickTicks;
    private int _count;
    private int _ticking;
    private long _evicted;
    private long _overflowHits;

    public LocalRateLimiter(RateLimitPolicyConfig config, TimeProvider time, bool startTimer = true)
    {
        _config = config;
        _time = time;
        _lookup = _partitions.GetAlternateLookup<ReadOnlySpan<char>>();
        _overflow = new Partition(CreateLimiter());
        IdleTimeout = EffectiveIdleTimeout(config);
        _idleTicks = (long)(IdleTimeout.TotalSeconds * time.TimestampFrequency);
        var sweep = Clamp(IdleTimeout / 4, MinTick, TimeSpan.FromSeconds(10));
        _sweepTicks = (long)(sweep.TotalSeconds * time.TimestampFrequency);
        _lastSweep = time.GetTimestamp();
        TickInterval = config.Algorithm switch
        {
            RateLimitAlgorithm.TokenBucket => Clamp(config.Period / 2, MinTick, MaxTick),
            RateLimitAlgorithm.FixedWindow => Clamp(config.Period / 20, MinTick, MaxTick),
            RateLimitAlgorithm.SlidingWindow => Clamp(config.Period / config.Segments / 4, MinTick, MaxTick),
            _ => sweep,
        };
        _now = _lastSweep;
        _tickTicks = startTimer ? (long)Math.Ceiling(TickInterval.TotalSeconds * time.TimestampFrequency) : 0;
        if (startTimer)
        {
            _timer = time.CreateTimer(static s => ((LocalRateLimiter)s!).Tick(), this, TickInterval, TickInterval);
        }
    }

    /// <summary>How long a partition must go unused before it is dropped: the configured <c>idleTimeout</c>, but never less
    /// than the time its state needs to recover fully, so dropping it cannot hand a client extra requests.</summary>
    public TimeSpan IdleTimeout { get; }

    public TimeSpan TickInterval { get; }

    public int PartitionCount => Volatile.Read(ref _count);

    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Requests that went to the shared overflow partition because the map was full.</summary>
    public long OverflowHits => Interlocked.Read(ref _overflowHits);

    public static TimeSpan EffectiveIdleTimeout(RateLimitPolicyConfig config)
    {
        var recovery = config.Algorithm switch
        {
            RateLimitAlgorithm.TokenBucket => config.Period * ((double)config.Burst / config.Limit),
            RateLimitAlgorithm.FixedWindow or RateLimitAlgorithm.SlidingWindow => config.Period,
            _ => TimeSpan.Zero,
        };
        return recovery > config.IdleTimeout ? recovery : config.IdleTimeout;
    }

    /// <summary>Takes one permit from <paramref name="key"/>'s partition. Not acquired: rejected; a concurrency lease is
    /// held until disposed.</summary>
    public RateLimitLease Acquire(ReadOnlySpan<char> key)
    {
        var partition = GetPartition(key);
        // The timestamp of the last tick (at most one tick interval old), not a clock read per request; eviction
        // allows for that interval.
        Volatile.Write(ref partition.LastUsed, _timer is null ? _time.GetTimestamp() : Volatile.Read(ref _now));
        return partition.Limiter.AttemptAcquire(1);
    }

    private Partition GetPartition(ReadOnlySpan<char> key)
    {
        if (_lookup.TryGetValue(key, out var partition))
        {
            return partition;
        }

        if (Volatile.Read(ref _count) >= _config.MaxPartitions)
        {
            Interlocked.Increment(ref _overflowHits);
            return _overflow;
        }

        var created = new Partition(CreateLimiter());
        if (_lookup.TryAdd(key, created))
        {
            Interlocked.Increment(ref _count);
            return created;
        }

        return _lookup.TryGetValue(key, out partition) ? partition : _overflow;
    }

    /// <summary>The timer's work: replenish every limiter and, every quarter of the idle timeout, drop idle partitions.</summary>
    internal void Tick()
    {
        if (Interlocked.Exchange(ref _ticking, 1) == 1)
        {
            return;
        }

        try
        {
            var now = _time.GetTimestamp();
            Volatile.Write(ref _now, now);
            var sweep = now - _lastSweep >= _sweepTicks;
            if (sweep)
            {
                _lastSweep = now;
            }

            foreach (var (key, partition) in _partitions)
            {
                if (sweep && now - Volatile.Read(ref partition.LastUsed) >= _idleTicks + _tickTicks && partition.HoldsNothing)
                {
                    // A request that found the partition just before may still use it: the orphan needs no disposal
                    // (no timer, nothing queued), and later requests with the key get a fresh one.
                    if (_partitions.TryRemove(new KeyValuePair<string, Partition>(key, partition)))
                    {
                        Interlocked.Decrement(ref _count);
                        Interlocked.Increment(ref _evicted);
                    }

                    continue;
                }

                (partition.Limiter as ReplenishingRateLimiter)?.TryReplenish();
            }

            (_overflow.Limiter as ReplenishingRateLimiter)?.TryReplenish();
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    private RateLimiter CreateLimiter() => _config.Algorithm switch
    {
        RateLimitAlgorithm.TokenBucket => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = _config.Burst,
            TokensPerPeriod = _config.Limit,
            ReplenishmentPeriod = _config.Period,
            QueueLimit = 0,
            AutoReplenishment = false,
        }),
        RateLimitAlgorithm.FixedWindow => new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions
        {
            PermitLimit = _config.Limit,
            Window = _config.Period,
            QueueLimit = 0,
            AutoReplenishment = false,
        }),
        RateLimitAlgorithm.SlidingWindow => new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
        {
            PermitLimit = _config.Limit,
            Window = _config.Period,
            SegmentsPerWindow = _config.Segments,
            QueueLimit = 0,
            AutoReplenishment = false,
        }),
        _ => new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = _config.Limit, QueueLimit = 0 }),
    };

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    public void Dispose() => _timer?.Dispose();

    private sealed class Partition(RateLimiter limiter)
    {
        public readonly RateLimiter Limiter = limiter;
        public long LastUsed;

        /// <summary>False while a concurrency partition has requests in flight: dropping it would forget them.</summary>
        public bool HoldsNothing => Limiter is not ConcurrencyLimiter || Limiter.IdleDuration is not null;
    }
}
