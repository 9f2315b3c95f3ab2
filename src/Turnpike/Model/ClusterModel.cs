using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Model;

/// <summary>A cluster at runtime: its destinations, the pooled HTTP client shared by them, and per-request settings.</summary>
internal sealed class ClusterModel(
    ClusterConfig config,
    DestinationModel[] destinations,
    HttpMessageInvoker invoker,
    ForwarderRequestConfig requestConfig,
    ILoadBalancingPolicy loadBalancer)
{
    public string Id { get; } = config.Id;

    public ClusterConfig Config { get; } = config;

    public DestinationModel[] Destinations { get; } = destinations;

    public HttpMessageInvoker Invoker { get; } = invoker;

    public ForwarderRequestConfig RequestConfig { get; } = requestConfig;

    /// <summary>Whole-request timeout; <see cref="TimeSpan.Zero"/> when off.</summary>
    public TimeSpan RequestTimeout { get; } = config.Http.RequestTimeout;

    public ILoadBalancingPolicy LoadBalancer { get; } = loadBalancer;

    /// <summary>At most this many attempts for a request that provably never reached an upstream (connect failures).</summary>
    public int MaxAttempts { get; } = Math.Min(2, destinations.Length);
}
