namespace Turnpike.ConnectionLimits;

/// <summary>Connections accepted and refused (per reason) on one listener; Interlocked, read by <c>GET /admin/connections</c>.</summary>
internal sealed class ConnectionLimitCounters
{
    private long _accepted;
    private long _globalLimit;
    private long _listenerLimit;
    private long _perIpLimit;
    private long _rateLimit;
    private long _trackerFull;

    public long Accepted => Volatile.Read(ref _accepted);

    public long GlobalLimit => Volatile.Read(ref _globalLimit);

    public long ListenerLimit => Volatile.Read(ref _listenerLimit);

    public long PerIpLimit => Volatile.Read(ref _perIpLimit);

    public long RateLimit => Volatile.Read(ref _rateLimit);

    public long TrackerFull => Volatile.Read(ref _trackerFull);

    public long Rejected => GlobalLimit + ListenerLimit + PerIpLimit + RateLimit + TrackerFull;

    public void Count(ConnectionVerdict verdict)
    {
        switch (verdict)
        {
            case ConnectionVerdict.Accepted: Interlocked.Increment(ref _accepted); break;
            case ConnectionVerdict.GlobalLimit: Interlocked.Increment(ref _globalLimit); break;
            case ConnectionVerdict.ListenerLimit: Interlocked.Increment(ref _listenerLimit); break;
            case ConnectionVerdict.PerIpLimit: Interlocked.Increment(ref _perIpLimit); break;
            case ConnectionVerdict.RateLimit: Interlocked.Increment(ref _rateLimit); break;
            case ConnectionVerdict.TrackerFull: Interlocked.Increment(ref _trackerFull); break;
        }
    }
}
