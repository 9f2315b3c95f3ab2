using Turnpike.Configuration;
using Turnpike.LoadBalancing;

namespace Turnpike.Model;

/// <summary>One upstream address. Counters are updated with <see cref="Interlocked"/> on the request path.</summary>
internal sealed class DestinationModel(DestinationConfig config, PeakEwma? latency = null)
{
    private long _inFlight;
    private long _requests;
    private long _failures;

    public string Id { get; } = config.Id;

    /// <summary>The address requests are sent to, as YARP's destination prefix.</summary>
    public string Address { get; } = config.Address;

    public int Weight { get; } = config.Weight;

    public DestinationConfig Config { get; } = config;

    /// <summary>Peak-EWMA latency, tracked only when the cluster balances with p2c_ewma; otherwise null.</summary>
    public PeakEwma? Latency { get; } = latency;

    public long InFlight => Volatile.Read(ref _inFlight);

    public long Requests => Volatile.Read(ref _requests);

    public long Failures => Volatile.Read(ref _failures);

    public void OnStart()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    /// <summary>Ends an attempt that took <paramref name="elapsed"/>, feeding the latency tracker when there is one.</summary>
    public void OnEnd(bool failed, TimeSpan elapsed)
    {
        Latency?.Observe(elapsed, failed);
        Interlocked.Decrement(ref _inFlight);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
        }
    }
}
