using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Turnpike.Observability;

/// <summary>
/// <c>turnpike.listener.io</c> (listener, direction: received | sent), in bytes: what each proxy listener read
/// from and wrote to its clients on the wire, counted by <see cref="ByteCountingMiddleware"/> on Kestrel listeners and
/// by the raw listener's own socket I/O on raw ones. Open and accepted connections and upgraded (WebSocket)
/// connections per listener address come from Kestrel's own meter (Kestrel listeners only).
/// </summary>
internal sealed class ListenerMetrics
{
    private readonly ConcurrentDictionary<string, ListenerByteCounters> _listeners = new(StringComparer.Ordinal);

    public ListenerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(TurnpikeMeter.Name);
        meter.CreateObservableCounter("turnpike.listener.io", Observe, "By", "Bytes received from and sent to clients on a proxy listener, TLS included.");
    }

    /// <summary>The counters of one listener, made when its endpoint is configured (never per request).</summary>
    public ListenerByteCounters For(string listener) => _listeners.GetOrAdd(listener, static name => new ListenerByteCounters(name));

    private IEnumerable<Measurement<long>> Observe()
    {
        foreach (var counters in _listeners.Values)
        {
            var listener = new KeyValuePair<string, object?>("listener", counters.Listener);
            yield return new Measurement<long>(counters.ReceivedBytes, listener, new KeyValuePair<string, object?>("direction", "received"));
            yield return new Measurement<long>(counters.SentBytes, listener, new KeyValuePair<string, object?>("direction", "sent"));
        }
    }
}
