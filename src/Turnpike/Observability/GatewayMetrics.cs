using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Turnpike.Observability;

/// <summary>
/// The request instruments of the gateway, recorded once per request when it completes (the gateway's own
/// answers too: 404 no route, 429, 502/503/504 …):
/// <c>turnpike.requests</c> (route, cluster, method, status_class), <c>turnpike.request.duration</c> in seconds
/// (route, cluster, status_class) and <c>turnpike.requests.in_flight</c>.
/// </summary>
/// <remarks>
/// The two counts are kept here with <see cref="Interlocked"/> and read by observable instruments when a scrape asks
/// (same names, labels and units as recorded instruments; series appear with their first count): a request adds to
/// a per-route array instead of passing a label set to the metrics SDK, which had to look it up for every
/// measurement. Only the duration is recorded per request (a histogram has no observable form). Counts live in one
/// <see cref="RequestMetricTags"/> per (route, cluster) for the life of this object, so a reload that rebuilds a
/// route continues its series instead of restarting it. Label sets are built once; nothing here allocates per request.
/// </remarks>
internal sealed class GatewayMetrics
{
    public const string RequestsName = "turnpike.requests";
    public const string DurationName = "turnpike.request.duration";
    public const string InFlightName = "turnpike.requests.in_flight";
    public const string DurationDescription = "Time from the request reaching the gateway to the end of its response.";

    private readonly ObservableCounter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly ObservableUpDownCounter<long> _inFlightGauge;
    private readonly ConcurrentDictionary<(string Route, string Cluster), RequestMetricTags> _series = new();
    private readonly RequestMetricTags _unmatched = new(TurnpikeMeter.None, TurnpikeMeter.None);
    private long _inFlight;
    private volatile bool _started;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        _requests = meter.CreateObservableCounter(RequestsName, ObserveRequests, "{request}", "Requests the gateway answered, by route, cluster, method and status class.");
        _duration = meter.CreateHistogram(
            DurationName,
            "s",
            DurationDescription,
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TurnpikeMeter.DurationBuckets });
        _inFlightGauge = meter.CreateObservableUpDownCounter(InFlightName, ObserveInFlight, "{request}", "Requests the gateway is working on.");
    }

    /// <summary>Whether anything listens (a scrape endpoint, the dashboard); when not, the request path skips all of this.</summary>
    public bool Enabled => _requests.Enabled || _duration.Enabled || _inFlightGauge.Enabled;

    public void RequestStarted()
    {
        Interlocked.Increment(ref _inFlight);
        if (!_started)
        {
            _started = true;
        }
    }

    /// <summary>Ends a request: <paramref name="tags"/> are the route's (null or <see cref="RequestMetricTags.Unmatched"/>: no route).</summary>
    public void RequestCompleted(RequestMetricTags? tags, string method, int status, TimeSpan elapsed)
    {
        Interlocked.Decrement(ref _inFlight);
        var series = tags is null || ReferenceEquals(tags, RequestMetricTags.Unmatched) ? _unmatched : tags.Series ?? Bind(tags);
        var statusClass = TurnpikeMeter.StatusClassIndex(status);
        series.Count(RequestMethods.IndexOf(method), statusClass);
        series.Duration(statusClass).Record(elapsed);
        if (_duration.Enabled)
        {
            _duration.Record(elapsed.TotalSeconds, series.ForDuration(statusClass));
        }
    }

    /// <summary>A route's first request in this model generation: its counts continue the (route, cluster) series.</summary>
    private RequestMetricTags Bind(RequestMetricTags tags)
    {
        var series = _series.GetOrAdd((tags.Route, tags.Cluster), tags);
        tags.Series = series;
        return series;
    }

    /// <summary>The duration series so far (scrape time, <see cref="DurationHistogramExport"/>).</summary>
    public void CollectDurations(List<DurationHistogram> series)
    {
        _unmatched.CollectDurations(series);
        foreach (var tags in _series.Values)
        {
            tags.CollectDurations(series);
        }
    }

    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        var measurements = new List<Measurement<long>>();
        _unmatched.Observe(measurements);
        foreach (var series in _series.Values)
        {
            series.Observe(measurements);
        }

        return measurements;
    }

    private IEnumerable<Measurement<long>> ObserveInFlight() =>
        _started ? [new Measurement<long>(Volatile.Read(ref _inFlight))] : [];
}
