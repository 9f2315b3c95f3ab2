namespace Turnpike.Configuration;

/// <summary>
/// Connection-level limits of one listener (<c>listeners.*.connectionLimits</c>), or the server-wide default they
/// inherit key by key (<c>server.connectionLimits</c>). Checked when a TCP connection is accepted, before any byte is
/// read (before TLS, before HTTP). Zero turns a limit off.
/// </summary>
public sealed record ConnectionLimitsConfig
{
    public const int DefaultMaxTrackedIps = 100_000;

    /// <summary>Open connections per client IP on this listener; 0: no limit.</summary>
    public int PerIp { get; init; }

    /// <summary>New connections per second per client IP (token bucket refill rate); 0: no limit.</summary>
    public double NewPerIpPerSecond { get; init; }

    /// <summary>Token bucket size: new connections one IP may open at once after being quiet. 0: one second's worth.</summary>
    public int Burst { get; init; }

    /// <summary>Open connections on this listener, all clients together; 0: no limit.</summary>
    public int Total { get; init; }

    /// <summary>IP addresses and CIDR blocks that the per-IP limits do not apply to (they still count toward totals).</summary>
    public IReadOnlyList<string> Exempt { get; init; } = [];

    /// <summary>Client IPs remembered at once; a new IP beyond this is refused until idle entries are swept.</summary>
    public int MaxTrackedIps { get; init; } = DefaultMaxTrackedIps;

    /// <summary>The bucket size in force: <see cref="Burst"/>, or one second's worth of <see cref="NewPerIpPerSecond"/> (at least 1).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int EffectiveBurst => Burst > 0 ? Burst : Math.Max(1, (int)Math.Ceiling(NewPerIpPerSecond));

    /// <summary>True when some per-IP limit applies, so client IPs are tracked.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool TracksIps => PerIp > 0 || NewPerIpPerSecond > 0;

    public bool Equals(ConnectionLimitsConfig? other) =>
        other is not null
        && PerIp == other.PerIp
        && NewPerIpPerSecond.Equals(other.NewPerIpPerSecond)
        && Burst == other.Burst
        && Total == other.Total
        && MaxTrackedIps == other.MaxTrackedIps
        && Exempt.SequenceEqual(other.Exempt, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(PerIp, NewPerIpPerSecond, Burst, Total, MaxTrackedIps, Exempt.Count);
}
