using System.Collections.Concurrent;

namespace Turnpike.ConnectionLimits;

/// <summary>
/// Per client IP: open connections and a new-connection token bucket, for one listener. Lock-free: an IP's entry is
/// found with <see cref="ConcurrentDictionary{TKey,TValue}.TryGetValue"/> and changed with compare-and-swap, so
/// accepting a connection from an IP already known allocates nothing.
/// <para>
/// Bounded: an entry is removed by <see cref="Sweep"/> (on a timer) once its IP has no open connection and its
/// bucket is full again; at most <see cref="ConnectionLimitOptions.MaxTrackedIps"/> entries exist, and a new IP
/// beyond that is refused (<see cref="ConnectionVerdict.TrackerFull"/>, as nginx's <c>limit_conn</c> does when its
/// zone is full) while a sweep is requested.
/// </para>
/// </summary>
internal sealed class PerIpConnectionTracker : IThreadPoolWorkItem, IDisposable
{
    /// <summary>How often idle entries are removed.</summary>
    public static readonly TimeSpan DefaultSweepInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<IpKey, IpEntry> _entries = new();
    private readonly ConnectionLimitOptions _options;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly long _minSweepGap;
    private int _count;
    private int _sweepQueued;
    private long _lastSweep;

    public PerIpConnectionTracker(ConnectionLimitOptions options, TimeProvider time, TimeSpan? sweepInterval = null)
    {
        _options = options;
        _time = time;
        _minSweepGap = time.TimestampFrequency; // a sweep requested by a full table: at most once a second
        _lastSweep = time.GetTimestamp();
        var interval = sweepInterval ?? DefaultSweepInterval;
        _timer = time.CreateTimer(static state => ((PerIpConnectionTracker)state!).Sweep(), this, interval, interval);
    }

    /// <summary>Client IPs currently tracked.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Counts a new connection from <paramref name="key"/> if the IP is within its limits. On
    /// <see cref="ConnectionVerdict.Accepted"/>, <paramref name="entry"/> must be given back to <see cref="Release"/>
    /// when the connection ends.
    /// </summary>
    public ConnectionVerdict TryAcquire(in IpKey key, out IpEntry? entry)
    {
        var perIp = _options.PerIp;
        while (true)
        {
            if (!_entries.TryGetValue(key, out entry))
            {
                if (Interlocked.Increment(ref _count) > _options.MaxTrackedIps)
                {
                    Interlocked.Decrement(ref _count);
                    RequestSweep();
                    entry = null;
                    return ConnectionVerdict.TrackerFull;
                }

                var created = new IpEntry(key);
                entry = _entries.GetOrAdd(key, created);
                if (!ReferenceEquals(entry, created))
                {
                    Interlocked.Decrement(ref _count);
                }
            }

            var connections = Volatile.Read(ref entry.Connections);
            while (true)
            {
                if (connections < 0)
                {
                    break; // swept: find or create the entry that replaces it
                }

                if (perIp > 0 && connections >= perIp)
                {
                    entry = null;
                    return ConnectionVerdict.PerIpLimit;
                }

                var seen = Interlocked.CompareExchange(ref entry.Connections, connections + 1, connections);
                if (seen == connections)
                {
                    break;
                }

                connections = seen;
            }

            if (connections < 0)
            {
                Remove(entry);
                continue;
            }

            if (_options.RateInterval > 0 && !entry.TryTakeToken(_time.GetTimestamp(), _options.RateInterval, _options.RateTolerance))
            {
                Interlocked.Decrement(ref entry.Connections);
                entry = null;
                return ConnectionVerdict.RateLimit;
            }

            return ConnectionVerdict.Accepted;
        }
    }

    /// <summary>The connection counted by <see cref="TryAcquire"/> has ended.</summary>
    public static void Release(IpEntry entry) => Interlocked.Decrement(ref entry.Connections);

    /// <summary>Removes every entry whose IP has no open connection and a full bucket. Returns how many went.</summary>
    public int Sweep()
    {
        var now = _time.GetTimestamp();
        Volatile.Write(ref _lastSweep, now);
        var removed = 0;
        foreach (var (_, entry) in _entries)
        {
            if (Volatile.Read(ref entry.Connections) != 0 || Volatile.Read(ref entry.Tat) > now)
            {
                continue;
            }

            // Mark it dead first: from here on no connection can be counted on it.
            if (Interlocked.CompareExchange(ref entry.Connections, -1, 0) != 0)
            {
                continue;
            }

            if (Volatile.Read(ref entry.Tat) > now)
            {
                // A connection came and went between the two reads; its rate state must stay. An acquirer that saw
                // the mark meanwhile has replaced the entry, and then this one is simply garbage.
                Volatile.Write(ref entry.Connections, 0);
                continue;
            }

            if (Remove(entry))
            {
                removed++;
            }
        }

        return removed;
    }

    private bool Remove(IpEntry entry)
    {
        if (_entries.TryRemove(new KeyValuePair<IpKey, IpEntry>(entry.Key, entry)))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }

        return false;
    }

    private void RequestSweep()
    {
        if (_time.GetTimestamp() - Volatile.Read(ref _lastSweep) >= _minSweepGap && Interlocked.Exchange(ref _sweepQueued, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        try
        {
            Sweep();
        }
        finally
        {
            Volatile.Write(ref _sweepQueued, 0);
        }
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>One client IP: open connections (−1 once swept) and its token bucket as a theoretical arrival time.</summary>
internal sealed class IpEntry(IpKey key)
{
    public readonly IpKey Key = key;

    /// <summary>Open connections; −1 marks an entry that has been swept and must not be used again.</summary>
    public int Connections;

    /// <summary>GCRA theoretical arrival time in <see cref="TimeProvider.GetTimestamp"/> ticks: the bucket is full when it is ≤ now.</summary>
    public long Tat;

    public bool TryTakeToken(long now, long interval, long tolerance)
    {
        var tat = Volatile.Read(ref Tat);
        while (true)
        {
            var next = Math.Max(tat, now) + interval;
            if (next - now > tolerance)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref Tat, next, tat);
            if (seen == tat)
            {
                return true;
            }

            tat = seen;
        }
    }
}
