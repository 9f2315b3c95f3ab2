using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Observability;

namespace Turnpike.Benchmarks;

/// <summary>
/// What the metrics cost one proxied request: <see cref="GatewayMetrics.RequestStarted"/> +
/// <see cref="GatewayMetrics.RequestCompleted"/> (requests counter, duration histogram, in-flight) and one
/// <see cref="UpstreamMetrics.Attempt"/> (upstream counter and histogram), with the request's label values
/// varying over 4 routes × 2 methods × 2 status classes as real traffic does. Each case is the same calls with a
/// different collector listening (BenchmarkDotNet runs every case in its own process):
/// nobody (metrics off / admin off), OpenTelemetry's SDK with the Prometheus exporter (what the gateway uses),
/// and prometheus-net 8.2.1's System.Diagnostics.Metrics adapter (<c>Metrics.ConfigureMeterAdapter</c>).
/// <c>PrometheusNetNative</c> is prometheus-net's own API with label children cached per series, a lower bound
/// for prometheus-net that bypasses System.Diagnostics.Metrics (so no dashboard, no OTel) — for reference only.
/// </summary>
[MemoryDiagnoser]
public class MetricsBenchmarks
{
    private static readonly string[] Methods = ["GET", "POST"];
    private static readonly int[] Statuses = [200, 404];
    private ServiceProvider _services = null!;
    private GatewayMetrics _metrics = null!;
    private UpstreamMetrics _upstream = null!;
    private RequestMetricTags[] _routes = null!;
    private IDisposable? _collector;
    private Prometheus.Counter.Child[] _nativeCounters = null!;
    private Prometheus.Histogram.Child[] _nativeHistograms = null!;
    private Prometheus.Gauge _nativeInFlight = null!;
    private int _i;

    [Params("None", "OpenTelemetry", "PrometheusNetAdapter")]
    public string Collector { get; set; } = "None";

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = _services.GetRequiredService<IMeterFactory>();
        switch (Collector)
        {
            case "OpenTelemetry":
                var admin = new ServiceCollection();
                admin.AddPrometheusExport(new MetricsConfig { Runtime = false }, factory);
                var provider = admin.BuildServiceProvider();
                _ = provider.GetRequiredService<MeterProvider>();
                _collector = provider;
                break;
            case "PrometheusNetAdapter":
                // Process-wide, cannot be undone; fine in BenchmarkDotNet's per-case process.
                Prometheus.Metrics.ConfigureMeterAdapter(o =>
                {
                    o.InstrumentFilterPredicate = i => i.Meter.Name == TurnpikeMeter.Name;
                    o.ResolveHistogramBuckets = _ => TurnpikeMeter.DurationBuckets;
                });
                break;
        }

        _metrics = new GatewayMetrics(factory);
        _upstream = new UpstreamMetrics(factory);
        _routes = [new("users", "api"), new("orders", "api"), new("static", "cdn"), new("search", "search")];
        // prometheus-net's adapter subscribes from a background task: give it a moment.
        for (var wait = 0; Collector != "None" && !_metrics.Enabled && wait < 100; wait++)
        {
            Thread.Sleep(100);
        }

        if (Collector != "None" && !_metrics.Enabled)
        {
            throw new InvalidOperationException($"{Collector} does not listen");
        }

        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metricFactory = Prometheus.Metrics.WithCustomRegistry(registry);
        var counter = metricFactory.CreateCounter("native_requests_total", "r", ["route", "cluster", "method", "status_class"]);
        var histogram = metricFactory.CreateHistogram("native_request_duration_seconds", "d", ["route", "cluster", "status_class"], new Prometheus.HistogramConfiguration { Buckets = TurnpikeMeter.DurationBuckets });
        _nativeInFlight = metricFactory.CreateGauge("native_in_flight", "f");
        _nativeCounters = new Prometheus.Counter.Child[16];
        _nativeHistograms = new Prometheus.Histogram.Child[16];
        for (var i = 0; i < 16; i++)
        {
            var route = _routes[i & 3];
            var status = TurnpikeMeter.StatusClasses[TurnpikeMeter.StatusClassIndex(Statuses[(i >> 3) & 1])];
            _nativeCounters[i] = counter.WithLabels(route.Route, route.Cluster, Methods[(i >> 2) & 1], status);
            _nativeHistograms[i] = histogram.WithLabels(route.Route, route.Cluster, status);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _collector?.Dispose();
        _services.Dispose();
    }

    [Benchmark(Description = "one request: requests + duration + in-flight + upstream attempt")]
    public void RecordRequest()
    {
        var i = _i++ & 15;
        var route = _routes[i & 3];
        _metrics.RequestStarted();
        _upstream.Attempt(route.Cluster, "d1", UpstreamResult.Success(Statuses[(i >> 3) & 1]), TimeSpan.FromTicks(1500 + i));
        _metrics.RequestCompleted(route, Methods[(i >> 2) & 1], Statuses[(i >> 3) & 1], TimeSpan.FromTicks(2000 + i));
    }

    [Benchmark(Description = "prometheus-net native API, cached children (requests + duration + in-flight only)")]
    public void PrometheusNetNative()
    {
        var i = _i++ & 15;
        _nativeInFlight.Inc();
        _nativeCounters[i].Inc();
        _nativeHistograms[i].Observe((2000 + i) / 1e7);
        _nativeInFlight.Dec();
    }
}
