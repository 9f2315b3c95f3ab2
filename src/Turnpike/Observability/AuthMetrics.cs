using System.Diagnostics.Metrics;

namespace Turnpike.Observability;

/// <summary>
/// <c>turnpike.auth.failures</c> (route, reason): requests refused by authentication (401) or authorization
/// (403). The place for the identity step (issue #5) to report into; <paramref name="reason"/> must come from a
/// fixed set (e.g. "missing", "invalid_token", "expired", "forbidden"), never from the request.
/// </summary>
internal sealed class AuthMetrics
{
    private readonly Counter<long> _failures;

    public AuthMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        _failures = meter.CreateCounter<long>("turnpike.auth.failures", "{request}", "Requests refused by authentication or authorization, by route and reason.");
    }

    public void Failure(string route, string reason)
    {
        if (_failures.Enabled)
        {
            _failures.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("reason", reason));
        }
    }
}
