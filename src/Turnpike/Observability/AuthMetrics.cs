using System.Diagnostics.Metrics;
using Turnpike.Model;

namespace Turnpike.Observability;

/// <summary>
/// Authentication outcomes, exported from the Interlocked <see cref="Identity.AuthCounters"/> each scheme already
/// keeps (read only when collected, nothing added to the request path): <c>turnpike.auth.failures</c> (scheme,
/// reason — a fixed set, <see cref="Identity.AuthReasons.All"/>) and <c>turnpike.auth.successes</c> (scheme).
/// </summary>
/// <remarks>A scheme's counters are carried across reloads while the scheme is unchanged; a changed scheme starts
/// from zero, which Prometheus's <c>rate()</c> treats as a counter reset.</remarks>
internal sealed class AuthMetrics
{
    private readonly GatewayState _state;

    public AuthMetrics(IMeterFactory meterFactory, GatewayState state)
    {
        _state = state;
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        meter.CreateObservableCounter("turnpike.auth.failures", Failures, "{request}", "Requests refused by an authentication scheme (401), by scheme and reason.");
        meter.CreateObservableCounter("turnpike.auth.successes", Successes, "{request}", "Requests an authentication scheme accepted.");
    }

    private IEnumerable<Measurement<long>> Failures()
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var (name, entry) in _state.Current.Identity.Schemes)
        {
            foreach (var reason in Identity.AuthReasons.All)
            {
                var count = entry.Counters.Failures(reason);
                if (count > 0)
                {
                    yield return new Measurement<long>(count, new KeyValuePair<string, object?>("scheme", name), new KeyValuePair<string, object?>("reason", reason));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> Successes()
    {
        if (!_state.HasConfig)
        {
            yield break;
        }

        foreach (var (name, entry) in _state.Current.Identity.Schemes)
        {
            yield return new Measurement<long>(entry.Counters.Successes, new KeyValuePair<string, object?>("scheme", name));
        }
    }
}
