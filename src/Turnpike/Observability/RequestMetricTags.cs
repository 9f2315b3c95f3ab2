namespace Turnpike.Observability;

/// <summary>
/// The label sets of one route's request instruments, made once per (method, status class) and then reused, so
/// recording a request allocates nothing. One instance per route, built with the runtime model; one shared
/// instance for requests no route matched.
/// </summary>
internal sealed class RequestMetricTags
{
    public static readonly RequestMetricTags Unmatched = new(TurnpikeMeter.None, TurnpikeMeter.None);

    private readonly KeyValuePair<string, object?>[]?[] _requests = new KeyValuePair<string, object?>[RequestMethods.Count * 5][];
    private readonly KeyValuePair<string, object?>[]?[] _durations = new KeyValuePair<string, object?>[5][];

    public RequestMetricTags(string route, string cluster)
    {
        Route = route;
        Cluster = cluster;
    }

    public string Route { get; }

    public string Cluster { get; }

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
}
