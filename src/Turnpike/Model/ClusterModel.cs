using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.Health;
using Turnpike.Retries;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Model;

/// <summary>A cluster at runtime: its destinations, their health, the pooled HTTP client shared by them, and per-request settings.</summary>
internal sealed class ClusterModel(
    ClusterConfig config,
    DestinationModel[] destinations,
    HttpMessageInvoker invoker,
    ForwarderRequestConfig requestConfig,
    ClusterHealth health)
{
    public string Id { get; } = config.Id;

    public ClusterConfig Config { get; } = config;

    /// <summary>Every destination, eligible or not.</summary>
    public DestinationModel[] Destinations { get; } = destinations;

    public HttpMessageInvoker Invoker { get; } = invoker;

    public ForwarderRequestConfig RequestConfig { get; } = requestConfig;

    /// <summary>Whole-request timeout; <see cref="TimeSpan.Zero"/> when off.</summary>
    public TimeSpan RequestTimeout { get; } = config.Http.RequestTimeout;

    public ClusterHealth Health { get; } = health;

    /// <summary>Caps the retries of every route sending here; carried over a reload that leaves the cluster and its budget unchanged.</summary>
    public required RetryBudget RetryBudget { get; init; }

    /// <summary>The raw HTTP/1.1 client's connection pools (<c>http.engine: raw</c>); null for the YARP engine.</summary>
    public Http1.Client.Http1ConnectionPool? RawPool { get; init; }

    /// <summary>Adaptive concurrency limit; null when off. Carried over a reload that leaves its settings unchanged.</summary>
    public Concurrency.AdaptiveConcurrencyLimiter? Concurrency { get; init; }

    /// <summary>
    /// Chooses the destination for one attempt among the eligible ones, avoiding <paramref name="exclude"/> when
    /// another exists. A destination whose breaker is half-open and has no trial slot left is passed over for the
    /// next eligible one that admits the request. Null when none does.
    /// </summary>
    public DestinationModel? Pick(HttpContext context, DestinationModel? exclude)
    {
        var selection = Health.Selection;
        var chosen = selection.Policy.Pick(context, selection.Eligible, exclude);
        if (exclude is not null && ReferenceEquals(chosen, exclude) && Health.FallbackFor(exclude) is { } other)
        {
            // The serving tier has nothing but the destination that just failed: a retry may use the next tier.
            return other;
        }

        if (chosen?.Health is not { } health || health.TryAcquire())
        {
            return chosen;
        }

        return PickAdmitted(selection.Eligible, chosen, exclude);
    }

    private static DestinationModel? PickAdmitted(DestinationModel[] eligible, DestinationModel refused, DestinationModel? exclude)
    {
        var excludeEligible = false;
        foreach (var candidate in eligible)
        {
            if (ReferenceEquals(candidate, exclude))
            {
                excludeEligible = true;
                continue;
            }

            if (!ReferenceEquals(candidate, refused) && (candidate.Health is not { } h || h.TryAcquire()))
            {
                return candidate;
            }
        }

        // Only the destination the last attempt used is left; it may take the retry if it admits it.
        return excludeEligible && !ReferenceEquals(exclude, refused) && (exclude!.Health is not { } last || last.TryAcquire()) ? exclude : null;
    }
}
