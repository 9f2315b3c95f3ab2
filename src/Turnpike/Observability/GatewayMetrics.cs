using System.Diagnostics.Metrics;

namespace Turnpike.Observability;

/// <summary>
/// The request instruments of the gateway, recorded once per request when it completes (the gateway's own
/// answers too: 404 no route, 429, 502/503/504 …):
/// <c>turnpike.requests</c> (route, cluster, method, status_class), <c>turnpike.request.duration</c> in seconds
/// (route, cluster, status_class) and <c>turnpike.requests.in_flight</c>. Label sets come from
/// <see cref="RequestMetricTags"/>, built per route at config load; nothing here allocates per request.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string RequestsName = "turnpike.requests";
    public const string DurationName = "turnpike.request.duration";
    public const string InFlightName = "turnpike.requests.in_flight";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _inFlight;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        _requests = meter.CreateCounter<long>(RequestsName, "{request}", "Requests the gateway answered, by route, cluster, method and status class.");
        _duration = meter.CreateHistogram(
            DurationName,
            "s",
            "Time from the request reaching the gateway to the end of its response.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TurnpikeMeter.DurationBuckets });
        _inFlight = meter.CreateUpDownCounter<long>(InFlightName, "{request}", "Requests the gateway is working on.");
    }

    /// <summary>Whether anything listens (a scrape endpoint, the dashboard); when not, the request path skips all of this.</summary>
    public bool Enabled => _requests.Enabled || _duration.Enabled || _inFlight.Enabled;

    public void RequestStarted()
    {
        if (_inFlight.Enabled)
        {
            _inFlight.Add(1);
        }
    }

    /// <summary>Ends a request: <paramref name="tags"/> are the route's (or <see cref="RequestMetricTags.Unmatched"/>).</summary>
    public void RequestCompleted(RequestMetricTags tags, string method, int status, TimeSpan elapsed)
    {
        if (_inFlight.Enabled)
        {
            _inFlight.Add(-1);
        }

        var statusClass = TurnpikeMeter.StatusClassIndex(status);
        if (_requests.Enabled)
        {
            _requests.Add(1, tags.ForRequests(RequestMethods.IndexOf(method), statusClass));
        }

        if (_duration.Enabled)
        {
            _duration.Record(elapsed.TotalSeconds, tags.ForDuration(statusClass));
        }
    }
}
