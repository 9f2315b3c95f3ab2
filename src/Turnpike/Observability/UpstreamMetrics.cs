using System.Diagnostics;
using System.Diagnostics.Metrics;
using Turnpike.Forwarding;

namespace Turnpike.Observability;

/// <summary>
/// Attempts to reach upstreams, recorded by the request path's attempt loop: <c>turnpike.upstream.requests</c>
/// (cluster, destination, outcome), <c>turnpike.upstream.request.duration</c> in seconds (cluster, destination),
/// <c>turnpike.upstream.retries</c> (cluster, reason) and <c>turnpike.upstream.timeouts</c> (cluster, destination,
/// kind). Labels are the ids of the model and fixed strings, passed in a <see cref="TagList"/> (no allocation).
/// </summary>
internal sealed class UpstreamMetrics
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _timeouts;

    public UpstreamMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        _requests = meter.CreateCounter<long>("turnpike.upstream.requests", "{request}", "Attempts sent to upstream destinations, by outcome.");
        _duration = meter.CreateHistogram(
            "turnpike.upstream.request.duration",
            "s",
            "Time of one upstream attempt, from picking the destination to the end of the upstream's response.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TurnpikeMeter.DurationBuckets });
        _retries = meter.CreateCounter<long>("turnpike.upstream.retries", "{retry}", "Attempts repeated on the same or another destination, by reason.");
        _timeouts = meter.CreateCounter<long>("turnpike.upstream.timeouts", "{timeout}", "Upstream attempts that timed out (kind: connect or response).");
    }

    /// <summary>The <c>outcome</c> label of an attempt: "success" (an answer below 500), "http_5xx" (an answer of
    /// 500 or more) or how it failed.</summary>
    public static string OutcomeOf(in UpstreamResult result) => result.Outcome switch
    {
        UpstreamOutcome.Success => result.Status >= 500 ? "http_5xx" : "success",
        UpstreamOutcome.ConnectFailed => "connect_failed",
        UpstreamOutcome.ConnectTimeout => "connect_timeout",
        UpstreamOutcome.Refused => "refused",
        UpstreamOutcome.Timeout => "timeout",
        UpstreamOutcome.UpstreamError => "upstream_error",
        _ => "client_aborted",
    };

    public void Attempt(string cluster, string destination, in UpstreamResult result, TimeSpan elapsed)
    {
        if (_requests.Enabled)
        {
            var tags = new TagList { { "cluster", cluster }, { "destination", destination }, { "outcome", OutcomeOf(result) } };
            _requests.Add(1, tags);
        }

        if (_duration.Enabled)
        {
            var tags = new TagList { { "cluster", cluster }, { "destination", destination } };
            _duration.Record(elapsed.TotalSeconds, tags);
        }

        if (result.Outcome is UpstreamOutcome.Timeout or UpstreamOutcome.ConnectTimeout && _timeouts.Enabled)
        {
            var tags = new TagList { { "cluster", cluster }, { "destination", destination }, { "kind", result.Outcome == UpstreamOutcome.ConnectTimeout ? "connect" : "response" } };
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
}
