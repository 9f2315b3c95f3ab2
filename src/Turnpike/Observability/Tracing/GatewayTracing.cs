using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Turnpike.Configuration;
using Turnpike.Pipeline;

namespace Turnpike.Observability.Tracing;

/// <summary>
/// OpenTelemetry tracing of the gateway hop (<c>tracing.enabled</c>): one Server span per request from the
/// <see cref="ActivitySource"/> "Turnpike", child of the client's W3C <c>traceparent</c> when it sent one (the
/// parent-based sampler follows its decision; new traces are sampled at <c>samplingRatio</c>), with route, cluster,
/// destination and status attributes, exported over OTLP.
/// </summary>
/// <remarks>
/// The upstream receives OUR span as its parent: the incoming <c>traceparent</c>/<c>tracestate</c> are replaced
/// on the request before YARP copies its headers (the upstream client's own header propagation is off, see
/// <c>UpstreamClientFactory</c>). With tracing off this class is not built: no Activity is created per request
/// and a client's <c>traceparent</c> goes upstream unchanged.
/// </remarks>
internal sealed class GatewayTracing : IDisposable
{
    public const string SourceName = "Turnpike";
    private static readonly ActivitySource Source = new(SourceName);
    private readonly TracerProvider _provider;

    /// <param name="processors">More span processors (tests add an in-memory exporter).</param>
    public GatewayTracing(TracingConfig config, IEnumerable<BaseProcessor<Activity>> processors)
    {
        var builder = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => r.AddService(config.ServiceName))
            .AddSource(SourceName)
            .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(config.SamplingRatio)));
        var extra = processors.ToList();
        if (extra.Count == 0)
        {
            var otlp = config.Otlp;
            builder.AddOtlpExporter(o =>
            {
                o.Protocol = otlp.Protocol == OtlpProtocol.Http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                var endpoint = new Uri(otlp.Endpoint);
                if (otlp.Protocol == OtlpProtocol.Http && endpoint.AbsolutePath is "/" or "")
                {
                    endpoint = new Uri(endpoint, "/v1/traces");
                }

                o.Endpoint = endpoint;
                o.TimeoutMilliseconds = (int)Math.Min(int.MaxValue, otlp.Timeout.TotalMilliseconds);
            });
        }

        foreach (var processor in extra)
        {
            builder.AddProcessor(processor);
        }

        _provider = builder.Build();
    }

    /// <summary>Wraps the request delegate in the gateway-hop span.</summary>
    public RequestDelegate Wrap(RequestDelegate next) => context =>
    {
        var request = context.Request;
        var headers = request.Headers;
        ActivityContext.TryParse(headers.TraceParent.ToString(), headers.TraceState.ToString(), isRemote: true, out var parent);
        var activity = Source.StartActivity(ActivityKind.Server, parent, name: request.Method);
        if (activity is null)
        {
            return next(context);
        }

        // The upstream's parent is this span (sampled or not, the decision travels in the flags).
        headers.TraceParent = activity.Id;
        if (activity.TraceStateString is { } traceState)
        {
            headers.TraceState = traceState;
        }
        else
        {
            headers.Remove(HeaderNames.TraceState);
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag("http.request.method", request.Method);
            activity.SetTag("url.path", request.Path.Value);
            activity.SetTag("url.scheme", request.Scheme);
            activity.SetTag("network.protocol.version", ProtocolVersion(request.Protocol));
            activity.SetTag("client.address", context.Connection.RemoteIpAddress?.ToString());
        }

        return RunAsync(next, context, activity);
    };

    private static async Task RunAsync(RequestDelegate next, HttpContext context, Activity activity)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }
        finally
        {
            if (activity.IsAllDataRequested)
            {
                Complete(context, activity);
            }

            activity.Dispose();
        }
    }

    private static void Complete(HttpContext context, Activity activity)
    {
        var status = context.Response.StatusCode;
        var feature = context.Features.Get<IGatewayRequestFeature>();
        if (feature?.RouteId is { } route)
        {
            activity.DisplayName = context.Request.Method + " " + route;
            activity.SetTag("turnpike.route", route);
            activity.SetTag("turnpike.cluster", feature.ClusterId);
        }

        if (feature?.DestinationId is { } destination)
        {
            activity.SetTag("turnpike.destination", destination);
            activity.SetTag("turnpike.attempts", feature.Attempts);
        }

        activity.SetTag("http.response.status_code", status);
        if (feature?.ErrorReason is { } reason)
        {
            activity.SetTag("error.type", reason);
        }

        if (status >= 500 && activity.Status == ActivityStatusCode.Unset)
        {
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }

    private static string ProtocolVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/3" => "3",
        "HTTP/1.0" => "1.0",
        _ => protocol,
    };

    /// <summary>Flushes spans still queued for export, then stops.</summary>
    public void Dispose()
    {
        _provider.ForceFlush(5000);
        _provider.Dispose();
    }
}
