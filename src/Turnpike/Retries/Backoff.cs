namespace Turnpike.Retries;

/// <summary>
/// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): retry n waits a
/// uniformly random time in [0, min(max, base·2^(n-1))). Jitter spreads the retries of many clients that failed
/// together, so they do not come back in lockstep.
/// </summary>
internal sealed class Backoff
{
    private readonly Random _random;

    public Backoff(TimeSpan baseDelay, TimeSpan max, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(baseDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, baseDelay);
        Base = baseDelay;
        Max = max;
        _random = random ?? Random.Shared;
    }

    public TimeSpan Base { get; }

    public TimeSpan Max { get; }

    /// <summary>The upper bound of the wait before retry <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan Ceiling(int retry)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retry, 1);
        var shift = retry - 1;
        // base·2^shift without overflow: past 62 doublings (or once over max) the cap applies anyway.
        if (shift >= 62 || Base.Ticks > (Max.Ticks >> shift))
        {
            return Max;
        }

        return TimeSpan.FromTicks(Base.Ticks << shift);
    }

    /// <summary>A random wait in [0, <see cref="Ceiling"/>) for retry <paramref name="retry"/>.</summary>
    public TimeSpan Next(int retry) => TimeSpan.FromTicks((long)(_random.NextDouble() * Ceiling(retry).Ticks));
}
