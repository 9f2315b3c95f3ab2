using Turnpike.Configuration;

namespace Turnpike.ConnectionLimits;

/// <summary>One listener's <see cref="ConnectionLimitsConfig"/> compiled for the accept path: timestamps instead of rates, parsed ranges.</summary>
internal sealed class ConnectionLimitOptions
{
    public ConnectionLimitOptions(ConnectionLimitsConfig config, long timestampFrequency)
    {
        PerIp = config.PerIp;
        Total = config.Total;
        MaxTrackedIps = config.MaxTrackedIps;
        if (config.NewPerIpPerSecond > 0)
        {
            // Generic cell rate algorithm (a token bucket kept as one timestamp): each connection moves the IP's
            // "theoretical arrival time" on by one interval; a connection is refused when that would put it more
            // than burst intervals ahead of now.
            RateInterval = Math.Max(1, (long)(timestampFrequency / config.NewPerIpPerSecond));
            RateTolerance = RateInterval * config.EffectiveBurst;
        }

        var exempt = new List<IpRange>(config.Exempt.Count);
        foreach (var text in config.Exempt)
        {
            if (IpRange.TryParse(text, out var range, out _))
            {
                exempt.Add(range);
            }
        }

        Exempt = exempt.ToArray();
    }

    /// <summary>Open connections per IP; 0: no limit.</summary>
    public int PerIp { get; }

    /// <summary>Timestamp ticks one new connection uses up; 0: no rate limit.</summary>
    public long RateInterval { get; }

    /// <summary>How far (in timestamp ticks) an IP's theoretical arrival time may run ahead of now: interval × burst.</summary>
    public long RateTolerance { get; }

    public int Total { get; }

    public int MaxTrackedIps { get; }

    public IpRange[] Exempt { get; }

    public bool TracksIps => PerIp > 0 || RateInterval > 0;

    public bool IsExempt(in IpKey key)
    {
        var exempt = Exempt;
        for (var i = 0; i < exempt.Length; i++)
        {
            if (exempt[i].Contains(key))
            {
                return true;
            }
        }

        return false;
    }
}
