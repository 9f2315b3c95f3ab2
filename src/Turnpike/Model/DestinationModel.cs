using Turnpike.Configuration;
using Turnpike.Health;
using Turnpike.LoadBalancing;

namespace Turnpike.Model;

/// <summary>How an attempt ended, as far as the destination's health is concerned.</summary>
internal enum AttemptVerdict
{
    Success,
    /// <summary>Connect failure, timeout, reset, broken response or a 5xx status.</summary>
    Failure,
    /// <summary>The client aborted or sent a broken body: says nothing about the destination.</summary>
    ClientFault,
}

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

    /// <summary>Failover tier; 0 serves first.</summary>
    public int Priority { get; } = config.Priority;

    public DestinationConfig Config { get; } = config;

    /// <summary>Peak-EWMA latency, tracked only when the cluster balances with p2c_ewma; otherwise null.</summary>
    public PeakEwma? Latency { get; } = latency;

    /// <summary>This destination's attempt counts in <see cref="Observability.UpstreamMetrics"/>, bound on its first attempt.</summary>
    internal Observability.UpstreamSeries? MetricSeries { get; set; }

    /// <summary>Health checks, outlier detection and the circuit breaker; null when the cluster configures none.</summary>
    public DestinationHealth? Health { get; internal set; }

    public long InFlight => Volatile.Read(ref _inFlight);

    public long Requests => Volatile.Read(ref _requests);

    public long Failures => Volatile.Read(ref _failures);

    public void OnStart()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    /// <summary>Ends an attempt that took <paramref name="elapsed"/>, feeding latency tracking and health.</summary>
    public void OnEnd(AttemptVerdict verdict, TimeSpan elapsed)
    {
        var failed = verdict == AttemptVerdict.Failure;
        Latency?.Observe(elapsed, failed);
        Interlocked.Decrement(ref _inFlight);
        if (failed)
        {
            Interlocked.Increment(ref _failures);
        }

        if (verdict != AttemptVerdict.ClientFault)
        {
            Health?.Report(failed);
        }
    }
}
