using System.Diagnostics.Metrics;

namespace Turnpike.Observability;

/// <summary>
/// The label sets of one route's request instruments, made once per (method, status class) and then reused, so
/// recording a request allocates nothing; and, for the instance <see cref="GatewayMetrics"/> keeps per (route,
/// cluster), the request counts by method and status class. One instance per route, built with the runtime model;
/// one shared instance for requests no route matched (its counts are never used: each <see cref="GatewayMetrics"/>
/// has its own).
/// </summary>
internal sealed class RequestMetricTags
{
    public static readonly RequestMetricTags Unmatched = new(TurnpikeMeter.None, TurnpikeMeter.None);

    private readonly KeyValuePair<string, object?>[]?[] _requests = new KeyValuePair<string, object?>[RequestMethods.Count * 5][];
    private readonly KeyValuePair<string, object?>[]?[] _durations = new KeyValuePair<string, object?>[5][];
    private readonly long[] _counts = new long[RequestMethods.Count * 5];
    private readonly DurationHistogram?[] _histograms = new DurationHistogram?[5];

    public RequestMetricTags(string route, string cluster)
    {
        Route = route;
        Cluster = cluster;
    }

    public string Route { get; }

    public string Cluster { get; }

    /// <summary>The instance whose counts this route's requests go to (set on the first request; itself or one of an
    /// earlier model generation with the same route and cluster).</summary>
    internal RequestMetricTags? Series { get; set; }

    /// <summary>route, cluster, method, status_class: the labels of <c>turnpike.requests</c>.</summary>
    public KeyValuePair<string, object?>[] ForRequests(int method, int statusClass)
    {
        // A race builds the same array twice; either copy is correct.
        ref var slot = ref _requests[(method * 5) + statusClass];
        return slot ??=
        [
            new("route", Route),
            new("cluster", Cluster),
            new("method", RequestMethods.Names[method]),
            new("status_class", TurnpikeMeter.StatusClasses[statusClass]),
        ];
    }

    /// <summary>route, cluster, status_class: the labels of <c>turnpike.request.duration</c>.</summary>
    public KeyValuePair<string, object?>[] ForDuration(int statusClass)
    {
        ref var slot = ref _durations[statusClass];
        return slot ??= [new("route", Route), new("cluster", Cluster), new("status_class", TurnpikeMeter.StatusClasses[statusClass])];
    }

    /// <summary>The <c>turnpike.request.duration</c> series of a status class, made on its first request.</summary>
    public DurationHistogram Duration(int statusClass) => _histograms[statusClass] ?? NewDuration(statusClass);

    private DurationHistogram NewDuration(int statusClass)
    {
        var created = new DurationHistogram(DurationHistogram.RenderLabels(("cluster", Cluster), ("route", Route), ("status_class", TurnpikeMeter.StatusClasses[statusClass])));
        return Interlocked.CompareExchange(ref _histograms[statusClass], created, null) ?? created;
    }

    /// <summary>Adds the duration series made so far to <paramref name="series"/>.</summary>
    public void CollectDurations(List<DurationHistogram> series)
    {
        for (var i = 0; i < _histograms.Length; i++)
        {
            if (Volatile.Read(ref _histograms[i]) is { } made)
            {
                series.Add(made);
            }
        }
    }

    /// <summary>One more request with this method and status class.</summary>
    public void Count(int method, int statusClass) => Interlocked.Increment(ref _counts[(method * 5) + statusClass]);

    /// <summary>The counts so far, one measurement per (method, status class) counted at least once (scrape time).</summary>
    public void Observe(List<Measurement<long>> measurements)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            var count = Volatile.Read(ref _counts[i]);
            if (count != 0)
            {
                measurements.Add(new Measurement<long>(count, ForRequests(i / 5, i % 5)));
            }
        }
    }
}
