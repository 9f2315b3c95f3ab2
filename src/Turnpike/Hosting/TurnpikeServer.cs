using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Turnpike.Admin;
using Turnpike.Configuration;
using Turnpike.ConnectionLimits;
using Turnpike.Connections;
using Turnpike.Demo;
using Turnpike.Forwarding;
using Turnpike.Logging;
using Turnpike.Model;
using Turnpike.Observability;
using Turnpike.Pipeline;

namespace Turnpike.Hosting;

/// <summary>
/// The whole gateway process: the proxy listeners, the admin listener and (for the embedded default) the demo
/// upstream, each a Kestrel host of its own, sharing one <see cref="GatewayState"/>.
/// </summary>
public sealed partial class TurnpikeServer : IAsyncDisposable
{
    internal const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    private readonly ConfigSource _source;
    private readonly Action<ILoggingBuilder>? _configureLogging;
    private WebApplication? _gateway;
    private WebApplication? _admin;
    private WebApplication? _demo;
    private ConfigWatcher? _watcher;
    private GatewayState? _state;
    private AccessLog? _accessLog;
    private Observability.Tracing.GatewayTracing? _tracing;
    private ILogger? _logger;
    private volatile bool _ready;
    private int _stopped;

    public TurnpikeServer(ConfigSource source, Action<ILoggingBuilder>? configureLogging = null)
    {
        _source = source;
        _configureLogging = configureLogging;
    }

    /// <summary>Test seam: runs after the gateway's own service registrations, so a registration here replaces one of them.</summary>
    internal Action<IServiceCollection>? ConfigureServices { get; init; }

    /// <summary>The runtime model in force (tests).</summary>
    internal GatewaySnapshot Snapshot => (_state ?? throw new InvalidOperationException("Not started.")).Current;

    /// <summary>Test seam: the upstream engine of clusters that do not choose one and could use it (see <see cref="RuntimeModelBuilder.DefaultUpstreamEngine"/>).</summary>
    internal UpstreamEngine? DefaultUpstreamEngine { get; init; }

    /// <summary>Proxy listener addresses by listener name, once started (port 0 resolved to the bound port).</summary>
    public IReadOnlyDictionary<string, Uri> ListenerUrls { get; private set; } = new Dictionary<string, Uri>();

    public Uri? AdminUrl { get; private set; }

    public Uri? DemoUrl { get; private set; }

    /// <summary>The dashboard's live statistics and its event stream, once the admin listener started.</summary>
    internal Admin.Dashboard.LiveStats? LiveStats { get; private set; }

    internal Admin.Dashboard.DashboardStream? DashboardStream { get; private set; }

    /// <summary>The most recent errors the gateway answered itself (<c>GET /admin/errors</c>).</summary>
    internal RecentErrors? RecentErrors { get; private set; }

    /// <summary>Connection limits and their counters (<c>GET /admin/connections</c>), once started.</summary>
    internal ConnectionLimiter? ConnectionLimiter { get; private set; }

    public bool IsReady => _ready;

    /// <summary>The configuration in force.</summary>
    public GatewayConfig CurrentConfig => _state?.Current.Config ?? throw new InvalidOperationException("Not started.");

    /// <summary>Loads the configuration and starts every listener. Throws <see cref="ConfigException"/> when the configuration is invalid.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = CreateBuilder();
        builder.Services.AddTurnpikeForwarding();
        builder.Services.AddSingleton(_source);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IHostResolver>(SystemHostResolver.Instance);
        builder.Services.AddSingleton<UpstreamClientFactory>();
        builder.Services.AddSingleton<RuntimeModelBuilder>();
        builder.Services.AddSingleton<GatewayState>();
        builder.Services.AddSingleton<YarpUpstreamSender>();
        builder.Services.AddSingleton<IUpstreamSender, Http1.Client.Http1UpstreamSender>();
        builder.Services.AddSingleton<ProxyHandler>();
        builder.Services.AddTurnpikeMetrics();
        builder.Services.AddSingleton(sp => new RecentErrors(sp.GetRequiredService<TimeProvider>()));
        ConfigureServices?.Invoke(builder.Services);

        // The configuration is needed to set up the listeners, so it is loaded and validated before the host is
        // built; the state then builds its runtime model from this same config.
        var loaded = ConfigValidator.Validate(_source);
        if (!loaded.IsValid)
        {
            throw new ConfigException(loaded.Errors);
        }

        var config = loaded.Config!;
        if (config.Server.InlineScheduling && Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            // Read once by the socket engine when the first socket is created, which happens after this point.
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }

        builder.Logging.SetMinimumLevel(config.Logging.Level);
        builder.Services.AddSingleton(sp => new AccessLog(config.Logging.AccessLog, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AccessLog>>()));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.Server.DrainTimeout);
        builder.Services.AddSingleton(sp => new ConnectionLimiter(config, sp.GetRequiredService<TimeProvider>()));
        ConfigureGatewayKestrel(builder.WebHost, config, IsKestrel);
        if (!HasKestrelListener(config))
        {
            // Every proxy listener is raw: the host still runs (services, hosted services) but binds nothing.
            builder.Services.AddSingleton<IServer, NoEndpointServer>();
        }

        var gateway = builder.Build();
        _gateway = gateway;
        _logger = gateway.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Turnpike");
        _state = gateway.Services.GetRequiredService<GatewayState>();
        _accessLog = gateway.Services.GetRequiredService<AccessLog>();
        ConnectionLimiter = gateway.Services.GetRequiredService<ConnectionLimiter>();
        gateway.Services.GetRequiredService<RuntimeModelBuilder>().DefaultUpstreamEngine = DefaultUpstreamEngine;
        var errors = _state.Initialize(config);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        MetricsExport.CreateObservedInstruments(gateway.Services);
        var handler = gateway.Services.GetRequiredService<ProxyHandler>();
        RecentErrors = gateway.Services.GetRequiredService<RecentErrors>();
        RequestDelegate app = handler.InvokeAsync;
        if (config.Tracing.Enabled)
        {
            _tracing = new Observability.Tracing.GatewayTracing(config.Tracing, gateway.Services.GetServices<OpenTelemetry.BaseProcessor<System.Diagnostics.Activity>>());
            app = _tracing.Wrap(app);
        }

        gateway.Run(app);

        if (config.Demo is { } demo)
        {
            _demo = DemoUpstream.Create(demo, ConfigureLogging);
            await _demo.StartAsync(cancellationToken).ConfigureAwait(false);
            DemoUrl = BoundUrls(_demo).FirstOrDefault();
        }

        await gateway.StartAsync(cancellationToken).ConfigureAwait(false);
        var listenerUrls = MapListenerUrls(config, BoundUrls(gateway), IsKestrel);
        // Raw listeners call the same request path through its ValueTask entry point when nothing wraps it.
        StartRawListeners(config, app, _tracing is null ? handler.Invoke : null, gateway.Services, listenerUrls);
        ListenerUrls = listenerUrls;

        if (config.Admin.Enabled)
        {
            var admin = CreateBuilder();
            admin.Logging.SetMinimumLevel(LogLevel.Warning);
            admin.WebHost.ConfigureKestrel(o =>
            {
                o.AddServerHeader = false;
                o.Listen(ParseAddress(config.Admin.Address), config.Admin.Port, l => l.Protocols = HttpProtocols.Http1);
            });
            if (config.Metrics.Enabled)
            {
                admin.Services.AddPrometheusExport(config.Metrics, gateway.Services.GetRequiredService<IMeterFactory>(), gateway.Services);
            }

            _admin = admin.Build();
            var state = _state;
            LiveStats = new Admin.Dashboard.LiveStats(
                gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
                () => Admin.Dashboard.RateLimitTotals.Rejected(state.Current),
                gateway.Services.GetRequiredService<TimeProvider>());
            LiveStats.Start();
            DashboardStream = new Admin.Dashboard.DashboardStream(LiveStats, _state);
            var adminHandler = new AdminHandler(_state, this, config.Admin.Token);
            if (config.Metrics.Enabled)
            {
                _admin.UsePrometheusEndpoint(config.Metrics, adminHandler.IsAuthorized);
            }

            _admin.Run(adminHandler.InvokeAsync);
            await _admin.StartAsync(cancellationToken).ConfigureAwait(false);
            AdminUrl = BoundUrls(_admin).FirstOrDefault();
        }

        if (_source.Path is not null)
        {
            _watcher = new ConfigWatcher(_source.Path, () => _state.ReloadAsync(), _logger);
        }

        _ready = true;
        foreach (var (name, url) in ListenerUrls)
        {
            LogListening(_logger, name, url);
        }
    }

    /// <summary>Applies the configuration source again (what a file change or POST /admin/reload does).</summary>
    public Task<IReadOnlyList<ConfigError>> ReloadAsync(CancellationToken cancellationToken = default) =>
        (_state ?? throw new InvalidOperationException("Not started.")).ReloadAsync(cancellationToken);

    /// <summary>
    /// Graceful stop: stop accepting, let in-flight requests finish for up to the drain timeout, then close the
    /// admin listener and the demo upstream.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        _ready = false;
        _watcher?.Dispose();
        if (_gateway is not null)
        {
            var drain = _state?.HasConfig == true ? _state.Current.Config.Server.DrainTimeout : TimeSpan.FromSeconds(30);
            if (_logger is not null)
            {
                LogDraining(_logger, drain.TotalSeconds);
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(drain);
            var rawStopped = StopRawListenersAsync(cts.Token);
            await _gateway.StopAsync(cts.Token).ConfigureAwait(false);
            await rawStopped.ConfigureAwait(false);
        }

        _state?.Dispose(); // health checks stop with the listeners

        LiveStats?.Dispose(); // ends the dashboard streams
        if (_admin is not null)
        {
            await _admin.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (_demo is not null)
        {
            await _demo.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (_accessLog is not null)
        {
            await _accessLog.DisposeAsync().ConfigureAwait(false);
        }

        _tracing?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        foreach (var app in new[] { _gateway, _admin, _demo })
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Turnpike" });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddSingleton<IHostLifetime, ExternalLifetime>();
        ConfigureLogging(builder.Logging);
        return builder;
    }

    private void ConfigureLogging(ILoggingBuilder logging)
    {
        // Any enabled level here makes ASP.NET Core's hosting layer start an Activity and a log scope for every
        // request; the gateway logs what matters itself (access log, failures), so this category is off.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        if (_configureLogging is not null)
        {
            _configureLogging(logging);
            return;
        }

        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        // Start-up failures are reported once, plainly, by the caller.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // YARP logs every failed forward with a stack trace; ProxyHandler logs one line per failure with its reason.
        logging.AddFilter("Yarp", LogLevel.Error);
    }

    private static void ConfigureGatewayKestrel(IWebHostBuilder webHost, GatewayConfig config, Func<ListenerConfig, bool> isKestrel)
    {
        var limits = config.Server.Limits;
        webHost.UseSockets(o => o.UnsafePreferInlineScheduling = config.Server.InlineScheduling);
        webHost.ConfigureKestrel(o =>
        {
            o.AddServerHeader = false;
            o.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
            o.Limits.KeepAliveTimeout = limits.KeepAliveTimeout;
            o.Limits.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
            o.Limits.MaxRequestHeaderCount = limits.MaxRequestHeaderCount;
            o.Limits.MaxRequestLineSize = limits.MaxRequestLineSize;
            o.Limits.MaxRequestBufferSize = Math.Max(1024 * 1024, limits.MaxRequestLineSize + limits.MaxRequestHeadersTotalSize);
            o.Limits.MaxRequestBodySize = limits.MaxRequestBodySize == 0 ? null : limits.MaxRequestBodySize;
            // limits.MaxConcurrentConnections is enforced (and counted) by ConnectionLimitMiddleware, not Kestrel.
            var connectionLimiter = o.ApplicationServices.GetRequiredService<ConnectionLimiter>();
            o.Limits.Http2.MaxStreamsPerConnection = limits.Http2MaxStreamsPerConnection;
            o.Limits.Http2.MaxRequestHeaderFieldSize = Math.Max(o.Limits.Http2.MaxRequestHeaderFieldSize, limits.MaxRequestHeadersTotalSize);
            foreach (var listener in config.Listeners)
            {
                if (!isKestrel(listener))
                {
                    continue;
                }

                o.Listen(ParseAddress(listener.Address), listener.Port, l =>
                {
                    if (connectionLimiter.Enforces(listener.Name))
                    {
                        // First in the chain: an over-limit connection is closed before TLS or HTTP read a byte.
                        var listenerLimiter = connectionLimiter.ForListener(listener.Name);
                        var logger = o.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Turnpike.ConnectionLimits");
                        l.Use(next => new ConnectionLimitMiddleware(next, listenerLimiter, logger).OnConnectionAsync);
                    }

                    if (MetricsExport.Exported(config))
                    {
                        // Wire bytes (before TLS) for turnpike_listener_io_bytes_total.
                        var bytes = o.ApplicationServices.GetRequiredService<ListenerMetrics>().For(listener.Name);
                        l.Use(next => new ByteCountingMiddleware(next, bytes).OnConnectionAsync);
                    }

                    l.Protocols = listener.Protocols switch
                    {
                        ListenerProtocols.Http1 => HttpProtocols.Http1,
                        ListenerProtocols.Http2 => HttpProtocols.Http2,
                        // Without TLS there is no ALPN to choose between the two, so a cleartext listener that
                        // allows both speaks HTTP/1.1; cleartext HTTP/2 (h2c, prior knowledge) is "protocols: http2".
                        _ when listener.Tls is null => HttpProtocols.Http1,
                        _ => HttpProtocols.Http1AndHttp2,
                    };
                    if (listener.Tls is { } tls)
                    {
                        var (certificate, chain) = LoadCertificate(tls);
                        l.UseHttps(https =>
                        {
                            https.ServerCertificate = certificate;
                            https.ServerCertificateChain = chain;
                        });
                    }
                });
            }
        });
    }

    /// <summary>The leaf certificate with its key, and any intermediates that follow it in the PEM file (fullchain.pem).</summary>
    internal static (X509Certificate2 Certificate, X509Certificate2Collection Chain) LoadCertificate(TlsConfig tls)
    {
        using var pem = X509Certificate2.CreateFromPemFile(tls.Certificate, tls.Key);
        // Re-import so the private key is usable by SslStream on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(tls.Certificate);
        var chain = new X509Certificate2Collection();
        foreach (var c in all)
        {
            if (c.Thumbprint != certificate.Thumbprint)
            {
                chain.Add(c);
            }
        }

        return (certificate, chain);
    }

    internal static IPAddress ParseAddress(string address) => address switch
    {
        "*" => IPAddress.IPv6Any,
        "localhost" => IPAddress.Loopback,
        _ => IPAddress.Parse(address),
    };

    private static List<Uri> BoundUrls(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => new Uri(a.Replace("[::]", "127.0.0.1", StringComparison.Ordinal))).ToList() ?? [];

    private static Dictionary<string, Uri> MapListenerUrls(GatewayConfig config, List<Uri> bound, Func<ListenerConfig, bool> isKestrel)
    {
        // Kestrel reports addresses in the order endpoints were configured.
        var map = new Dictionary<string, Uri>(StringComparer.Ordinal);
        var kestrel = config.Listeners.Where(isKestrel).ToList();
        for (var i = 0; i < kestrel.Count && i < bound.Count; i++)
        {
            map[kestrel[i].Name] = bound[i];
        }

        return map;
    }

    [LoggerMessage(30, LogLevel.Information, "Listener {Name} on {Url}")]
    private static partial void LogListening(ILogger logger, string name, Uri url);

    [LoggerMessage(31, LogLevel.Information, "Stopping: draining in-flight requests for up to {Seconds}s")]
    private static partial void LogDraining(ILogger logger, double seconds);
}

/// <summary>The configuration could not be loaded; <see cref="Errors"/> says why.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception($"Invalid configuration ({errors.Count} error(s)):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}")
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}

/// <summary>Signals are handled by the caller (the CLI), which decides when to drain; the hosts must not react on their own.</summary>
internal sealed class ExternalLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
