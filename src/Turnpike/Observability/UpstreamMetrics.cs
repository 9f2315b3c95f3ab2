using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Turnpike.Forwarding;

namespace Turnpike.Observability;

/// <summary>
/// Attempts to reach upstreams, recorded by the request path's attempt loop: <c>turnpike.upstream.requests</c>
/// (cluster, destination, outcome), <c>turnpike.upstream.request.duration</c> in seconds (cluster, destination),
/// <c>turnpike.upstream.retries</c> (cluster, reason) and <c>turnpike.upstream.timeouts</c> (cluster, destination,
/// kind). Attempts are counted per (cluster, destination) in an <see cref="UpstreamSeries"/> with
/// <see cref="Interlocked"/> and read by an observable counter at scrape time (series appear with their first count);
/// the duration is recorded with the series' label array. Nothing is allocated per attempt.
/// </summary>
internal sealed class UpstreamMetrics
{
    public const string DurationName = "turnpike.upstream.request.duration";
    public const string DurationDescription = "Time of one upstream attempt, from picking the destination to the end of the upstream's response.";

    private readonly ObservableCounter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _timeouts;
    private readonly ConcurrentDictionary<(string Cluster, string Destination), UpstreamSeries> _series = new();

    public UpstreamMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        _requests = meter.CreateObservableCounter("turnpike.upstream.requests", ObserveRequests, "{request}", "Attempts sent to upstream destinations, by outcome.");
        _duration = meter.CreateHistogram(
            DurationName,
            "s",
            DurationDescription,
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TurnpikeMeter.DurationBuckets });
        _retries = meter.CreateCounter<long>("turnpike.upstream.retries", "{retry}", "Attempts repeated on the same or another destination, by reason.");
        _timeouts = meter.CreateCounter<long>("turnpike.upstream.timeouts", "{timeout}", "Upstream attempts that timed out (kind: connect or response).");
    }

    /// <summary>Whether anything listens to the attempt instruments; when not, the attempt loop skips <see cref="Attempt(UpstreamSeries, in UpstreamResult, TimeSpan)"/>.</summary>
    public bool Enabled => _requests.Enabled || _duration.Enabled || _timeouts.Enabled;

    /// <summary>The <c>outcome</c> label of an attempt: "success" (an answer below 500), "http_5xx" (an answer of
    /// 500 or more) or how it failed.</summary>
    public static string OutcomeOf(in UpstreamResult result) => UpstreamSeries.Outcomes[UpstreamSeries.OutcomeIndex(result)];

    /// <summary>The series of one destination of this gateway: the same object for the same ids across reloads.</summary>
    public UpstreamSeries SeriesOf(string cluster, string destination) =>
        _series.GetOrAdd((cluster, destination), static key => new UpstreamSeries(key.Cluster, key.Destination));

    public void Attempt(string cluster, string destination, in UpstreamResult result, TimeSpan elapsed) =>
        Attempt(SeriesOf(cluster, destination), result, elapsed);

    /// <summary>One attempt ended; <paramref name="series"/> is its destination's (kept on the destination model).</summary>
    public void Attempt(UpstreamSeries series, in UpstreamResult result, TimeSpan elapsed)
    {
        series.Count(result);
        series.Duration.Record(elapsed);
        if (_duration.Enabled)
        {
            _duration.Record(elapsed.TotalSeconds, series.DurationTags);
        }

        if (result.Outcome is UpstreamOutcome.Timeout or UpstreamOutcome.ConnectTimeout && _timeouts.Enabled)
        {
            var tags = new TagList { { "cluster", series.Cluster }, { "destination", series.Destination }, { "kind", result.Outcome == UpstreamOutcome.ConnectTimeout ? "connect" : "response" } };
            _timeouts.Add(1, tags);
        }
    }

    /// <summary>One more attempt is about to start; <paramref name="reason"/> is one of "connect_failure",
    /// "refused", "status", "timeout", "reset".</summary>
    public void Retry(string cluster, string reason)
    {
        if (_retries.Enabled)
        {
            _retries.Add(1, new KeyValuePair<string, object?>("cluster", cluster), new KeyValuePair<string, object?>("reason", reason));
        }
    }

    /// <summary>The duration series with at least one attempt (scrape time, <see cref="DurationHistogramExport"/>).</summary>
    public void CollectDurations(List<DurationHistogram> series)
    {
        foreach (var destination in _series.Values)
        {
            series.Add(destination.Duration);
        }
    }

    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var series in _series.Values)
        {
            series.Observe(measurements);
        }

        return measurements;
    }
}

/// <summary>One destination's attempt counts by outcome and its label arrays, built once.</summary>
internal sealed class UpstreamSeries
{
    /// <summary>The <c>outcome</c> label values, by <see cref="OutcomeIndex"/>.</summary>
    public static readonly string[] Outcomes = ["success", "http_5xx", "connect_failed", "connect_timeout", "refused", "timeout", "upstream_error", "client_aborted"];

    private readonly long[] _counts = new long[Outcomes.Length];
    private readonly KeyValuePair<string, object?>[][] _requestTags;

    public UpstreamSeries(string cluster, string destination)
    {
        Cluster = cluster;
        Destination = destination;
        DurationTags = [new("cluster", cluster), new("destination", destination)];
        Duration = new DurationHistogram(DurationHistogram.RenderLabels(("cluster", cluster), ("destination", destination)));
        _requestTags = new KeyValuePair<string, object?>[Outcomes.Length][];
        for (var i = 0; i < Outcomes.Length; i++)
        {
            _requestTags[i] = [new("cluster", cluster), new("destination", destination), new("outcome", Outcomes[i])];
        }
    }

    public string Cluster { get; }

    public string Destination { get; }

    /// <summary>cluster, destination: the labels of <c>turnpike.upstream.request.duration</c>.</summary>
    public KeyValuePair<string, object?>[] DurationTags { get; }

    /// <summary>This destination's <c>turnpike.upstream.request.duration</c> series.</summary>
    public DurationHistogram Duration { get; }

    public static int OutcomeIndex(in UpstreamResult result) => result.Outcome switch
    {
        UpstreamOutcome.Success => result.Status >= 500 ? 1 : 0,
        UpstreamOutcome.ConnectFailed => 2,
        UpstreamOutcome.ConnectTimeout => 3,
        UpstreamOutcome.Refused => 4,
        UpstreamOutcome.Timeout => 5,
        UpstreamOutcome.UpstreamError => 6,
        _ => 7,
    };

    public void Count(in UpstreamResult result) => Interlocked.Increment(ref _counts[OutcomeIndex(result)]);

    public void Observe(List<Measurement<long>> measurements)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            var count = Volatile.Read(ref _counts[i]);
            if (count != 0)
            {
                measurements.Add(new Measurement<long>(count, _requestTags[i]));
            }
        }
    }
}
