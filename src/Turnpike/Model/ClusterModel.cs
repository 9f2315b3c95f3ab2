using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Retries;
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

    /// <summary>Caps the retries of every route sending here (per snapshot: a reload starts a fresh window).</summary>
    public required RetryBudget RetryBudget { get; init; }
}
