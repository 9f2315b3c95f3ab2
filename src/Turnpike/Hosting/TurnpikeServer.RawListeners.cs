using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;
using Turnpike.ConnectionLimits;
using Turnpike.Http1;
using Turnpike.Http1.Server;
using Turnpike.Observability;
using Turnpike.Pipeline;

namespace Turnpike.Hosting;

/// <summary>The raw-socket HTTP/1.1 listeners (<c>listeners.*.engine: raw</c>), started beside the Kestrel ones.</summary>
public sealed partial class TurnpikeServer
{
    private readonly List<RawListener> _rawListeners = [];

    /// <summary>
    /// Test seam: the engine of every listener that could be raw (HTTP/1.1, no TLS) and does not name one in its
    /// configuration. Null: Kestrel, as configured.
    /// </summary>
    internal ListenerEngine? DefaultListenerEngine { get; init; }

    internal ListenerEngine EngineOf(ListenerConfig listener) =>
        listener.Engine ?? (listener.Protocols == ListenerProtocols.Http1 && listener.Tls is null ? DefaultListenerEngine ?? ListenerEngine.Kestrel : ListenerEngine.Kestrel);

    private bool IsKestrel(ListenerConfig listener) => EngineOf(listener) == ListenerEngine.Kestrel;

    private bool HasKestrelListener(GatewayConfig config)
    {
        foreach (var listener in config.Listeners)
        {
            if (IsKestrel(listener))
            {
                return true;
            }
        }

        return false;
    }

    /// <param name="app">The gateway's request delegate, as Kestrel listeners run it.</param>
    /// <param name="valueApp">The same request path as a ValueTask entry point; null when something wraps <paramref name="app"/>.</param>
    private void StartRawListeners(GatewayConfig config, RequestDelegate app, Func<HttpContext, ValueTask>? valueApp, IServiceProvider services, Dictionary<string, Uri> listenerUrls)
    {
        var kestrelUrls = new Dictionary<string, Uri>(listenerUrls, StringComparer.Ordinal);
        listenerUrls.Clear();
        var limits = config.Server.Limits;
        var connectionLimiter = services.GetRequiredService<ConnectionLimiter>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Turnpike.RawListener");
        var http1Limits = new Http1Limits(
            MaxRequestLineLength: limits.MaxRequestLineSize,
            MaxHeaderCount: limits.MaxRequestHeaderCount,
            MaxHeaderBytes: limits.MaxRequestHeadersTotalSize,
            MaxBodySize: limits.MaxRequestBodySize == 0 ? long.MaxValue : limits.MaxRequestBodySize,
            MaxChunkExtensionLength: Http1Limits.Default.MaxChunkExtensionLength,
            MaxTrailerBytes: Http1Limits.Default.MaxTrailerBytes);
        foreach (var listener in config.Listeners)
        {
            if (IsKestrel(listener))
            {
                if (kestrelUrls.TryGetValue(listener.Name, out var url))
                {
                    listenerUrls[listener.Name] = url;
                }

                continue;
            }

            var options = new RawListenerOptions
            {
                Name = listener.Name,
                Application = app,
                ValueApplication = valueApp,
                Services = services,
                Logger = logger,
                Time = services.GetRequiredService<TimeProvider>(),
                Limits = http1Limits,
                InlineScheduling = config.Server.InlineScheduling,
                MaxRequestBodySize = limits.MaxRequestBodySize == 0 ? null : limits.MaxRequestBodySize,
                RequestHeadersTimeout = limits.RequestHeadersTimeout,
                KeepAliveTimeout = limits.KeepAliveTimeout,
                ConnectionLimiter = connectionLimiter.Enforces(listener.Name) ? connectionLimiter.ForListener(listener.Name) : null,
                Bytes = MetricsExport.Exported(config) ? services.GetRequiredService<ListenerMetrics>().For(listener.Name) : null,
                UnversionedFeatures = [typeof(IGatewayRequestFeature)],
            };
            var raw = RawListener.Start(new IPEndPoint(ParseAddress(listener.Address), listener.Port), options);
            _rawListeners.Add(raw);
            var host = raw.LocalEndPoint.Address.Equals(IPAddress.IPv6Any) || raw.LocalEndPoint.Address.Equals(IPAddress.Any)
                ? "127.0.0.1"
                : raw.LocalEndPoint.Address.ToString();
            listenerUrls[listener.Name] = new UriBuilder("http", host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, raw.LocalEndPoint.Port).Uri;
        }
    }

    private async Task StopRawListenersAsync(CancellationToken drain)
    {
        var stopping = new List<Task>(_rawListeners.Count);
        foreach (var raw in _rawListeners)
        {
            stopping.Add(raw.StopAsync(drain));
        }

        await Task.WhenAll(stopping).ConfigureAwait(false);
        foreach (var raw in _rawListeners)
        {
            await raw.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The gateway host's server when every proxy listener is raw: Kestrel would otherwise bind its default port.</summary>
    private sealed class NoEndpointServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }
}
