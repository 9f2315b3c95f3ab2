using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Turnpike.Configuration;

namespace Turnpike.Observability;

/// <summary>
/// Registration of the gateway's instruments, and the Prometheus scrape endpoint on the admin listener
/// (OpenTelemetry's Prometheus exporter).
/// </summary>
internal static class MetricsExport
{
    private const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";

    // OpenTelemetry allocates every stream's series storage up front at its cardinality limit (2,000 by default: ~6.9
    // MiB of the large object heap for the ~41 exported streams, bench/results/NOTES-20261201-aotmem.md). The runtime's
    // and Kestrel's instruments have a handful of label sets each (generations, endpoints, protocols); past the limit
    // OpenTelemetry folds further series into one overflow series. Turnpike's own keep the default: their series are
    // routes × clusters × destinations × status classes, which a large configuration can make many.
    private const int RuntimeSeriesLimit = 64;
    private const int KestrelSeriesLimit = 256;
    private const string RuntimeMeter = "System.Runtime";

    /// <summary>The gateway host's instruments: one meter "Turnpike" through <see cref="IMeterFactory"/>, one class per area.</summary>
    public static IServiceCollection AddTurnpikeMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<UpstreamMetrics>();
        services.AddSingleton<HealthMetrics>();
        services.AddSingleton<EdgeMetrics>();
        services.AddSingleton<AuthMetrics>();
        services.AddSingleton<ListenerMetrics>();
        return services;
    }

    /// <summary>Creates the instruments that are only observed (read at scrape time), so they exist before the first scrape.</summary>
    public static void CreateObservedInstruments(IServiceProvider gatewayServices)
    {
        gatewayServices.GetRequiredService<HealthMetrics>();
        gatewayServices.GetRequiredService<EdgeMetrics>();
        gatewayServices.GetRequiredService<AuthMetrics>();
        gatewayServices.GetRequiredService<ListenerMetrics>();
    }

    /// <summary>Whether the metrics are exported at all (admin listener and <c>metrics</c> on): only then do
    /// listeners count bytes.</summary>
    public static bool Exported(GatewayConfig config) => config.Admin.Enabled && config.Metrics.Enabled;

    /// <summary>
    /// Adds the OpenTelemetry meter provider with the Prometheus exporter to the admin host. It exports the meter
    /// "Turnpike" and Kestrel's connection instruments of the gateway host only (<paramref name="gatewayMeters"/>:
    /// other hosts in the process, such as the admin listener itself or other gateways in tests, are left out),
    /// plus the runtime's "System.Runtime" meter when <see cref="MetricsConfig.Runtime"/> is on.
    /// </summary>
    /// <param name="gatewayServices">The gateway host's services: when given, its two duration histograms are exported
    /// by <see cref="DurationHistogramExport"/> instead of being aggregated by OpenTelemetry.</param>
    public static void AddPrometheusExport(this IServiceCollection adminServices, MetricsConfig config, IMeterFactory gatewayMeters, IServiceProvider? gatewayServices = null)
    {
        var histograms = gatewayServices is null ? null
            : new DurationHistogramExport(gatewayServices.GetRequiredService<GatewayMetrics>(), gatewayServices.GetRequiredService<UpstreamMetrics>());
        if (histograms is not null)
        {
            adminServices.AddSingleton(histograms);
        }

        adminServices.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.ConfigureResource(resource => resource.AddService("turnpike"));
            metrics.AddMeter(TurnpikeMeter.Name, KestrelMeter);
            if (config.Runtime)
            {
                metrics.AddMeter(RuntimeMeter);
            }

            metrics.AddView(instrument => Select(instrument, gatewayMeters, histograms is not null));
            metrics.AddPrometheusExporter(o =>
            {
                o.ScrapeEndpointPath = config.Path;
                // Every scrape sees the counters as they are now (the default caches a response for 300 ms).
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            });
        });
    }

    /// <summary>
    /// Which instruments are exported, under which name and with how many series at most. Instruments of other meter
    /// factories with the same meter names are dropped, not merged. Three runtime gauges end in "count", which Prometheus reserves for
    /// histograms and summaries (<c>promtool check metrics</c> refuses them), so they are renamed.
    /// </summary>
    private static MetricStreamConfiguration? Select(Instrument instrument, IMeterFactory gatewayMeters, bool ownHistograms)
    {
        if (instrument.Meter.Name == RuntimeMeter)
        {
            return instrument.Name switch
            {
                "dotnet.assembly.count" => new MetricStreamConfiguration { Name = "dotnet.assemblies", CardinalityLimit = RuntimeSeriesLimit },
                "dotnet.process.cpu.count" => new MetricStreamConfiguration { Name = "dotnet.process.cpus", CardinalityLimit = RuntimeSeriesLimit },
                "dotnet.timer.count" => new MetricStreamConfiguration { Name = "dotnet.timers", CardinalityLimit = RuntimeSeriesLimit },
                _ => new MetricStreamConfiguration { CardinalityLimit = RuntimeSeriesLimit },
            };
        }

        if (!ReferenceEquals(instrument.Meter.Scope, gatewayMeters))
        {
            return MetricStreamConfiguration.Drop;
        }

        if (ownHistograms && instrument.Meter.Name == TurnpikeMeter.Name && DurationHistogramExport.Exports(instrument.Name))
        {
            return MetricStreamConfiguration.Drop;
        }

        return instrument.Meter.Name == KestrelMeter ? new MetricStreamConfiguration { CardinalityLimit = KestrelSeriesLimit } : null;
    }

    /// <summary>
    /// Serves the scrape endpoint at <see cref="MetricsConfig.Path"/>. When the admin listener has a token, the
    /// endpoint asks for it like <c>/admin/*</c> (Prometheus: <c>authorization: { credentials: … }</c>).
    /// </summary>
    public static void UsePrometheusEndpoint(this WebApplication admin, MetricsConfig config, Func<HttpRequest, bool> isAuthorized)
    {
        var histograms = admin.Services.GetService<DurationHistogramExport>();
        admin.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: null,
            path: config.Path,
            configureBranchedPipeline: branch => branch.Use(next => context =>
            {
                if (isAuthorized(context.Request))
                {
                    return histograms is null ? next(context) : histograms.ServeAsync(context, next);
                }

                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"turnpike-admin\"";
                return context.Response.WriteAsync("unauthorized\n");
            }),
            optionsName: null);
    }
}
