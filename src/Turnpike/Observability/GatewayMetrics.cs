using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Turnpike.Pipeline;

namespace Turnpike.Observability;

/// <summary>
/// TEMPORARY minimal recorder of the request instruments of the shared metrics contract (meter "Turnpike":
/// <c>turnpike.requests</c>, <c>turnpike.request.duration</c>, <c>turnpike.requests.in_flight</c>), so the live
/// dashboard has something to listen to. The metrics branch replaces this file (and its hook) at merge; nothing
/// else depends on this class, only on the meter and instrument names.
/// </summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "Turnpike";
    private const string None = "(none)";
    private static readonly string[] StatusClasses = ["1xx", "1xx", "2xx", "3xx", "4xx", "5xx"];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly UpDownCounter<long> _inFlight;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("turnpike.requests", "{request}", "Requests handled by the gateway.");
        _duration = meter.CreateHistogram<double>("turnpike.request.duration", "s", "Time from request start to response end.");
        _inFlight = meter.CreateUpDownCounter<long>("turnpike.requests.in_flight", "{request}", "Requests being handled.");
    }

    /// <summary>Wraps the request delegate: one recording per request when it completes.</summary>
    public RequestDelegate Wrap(RequestDelegate next) => context =>
    {
        var started = Stopwatch.GetTimestamp();
        _inFlight.Add(1);
        Task task;
        try
        {
            task = next(context);
        }
        catch
        {
            Record(context, started, 500);
            throw;
        }

        if (task.IsCompletedSuccessfully)
        {
            Record(context, started, context.Response.StatusCode);
            return Task.CompletedTask;
        }

        return Awaited(task, context, started);
    };

    private async Task Awaited(Task task, HttpContext context, long started)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        finally
        {
            Record(context, started, context.Response.StatusCode);
        }
    }

    private void Record(HttpContext context, long started, int status)
    {
        _inFlight.Add(-1);
        var feature = context.Features.Get<IGatewayRequestFeature>();
        var route = feature?.RouteId ?? None;
        var cluster = feature?.ClusterId ?? None;
        var statusClass = StatusClasses[Math.Clamp(status / 100, 1, 5)];
        var method = HttpMethods.GetCanonicalizedValue(context.Request.Method) switch
        {
            var m when ReferenceEquals(m, HttpMethods.Get) || ReferenceEquals(m, HttpMethods.Post) || ReferenceEquals(m, HttpMethods.Put)
                || ReferenceEquals(m, HttpMethods.Delete) || ReferenceEquals(m, HttpMethods.Head) || ReferenceEquals(m, HttpMethods.Options)
                || ReferenceEquals(m, HttpMethods.Patch) || ReferenceEquals(m, HttpMethods.Trace) || ReferenceEquals(m, HttpMethods.Connect) => m,
            _ => "OTHER",
        };
        _requests.Add(1, new("route", route), new("cluster", cluster), new("method", method), new("status_class", statusClass));
        _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new("route", route), new("cluster", cluster), new("status_class", statusClass));
    }
}
