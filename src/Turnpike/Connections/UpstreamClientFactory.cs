using System.Net;
using System.Net.Http;
using System.Net.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Configuration;

namespace Turnpike.Connections;

/// <summary>
/// Builds the HTTP client of a cluster: one <see cref="SocketsHttpHandler"/> (one connection pool per destination)
/// from <c>clusters.*.http</c>, with a <see cref="UpstreamConnector"/> and its own <see cref="DnsCache"/> when the
/// cluster has host-name destinations.
/// </summary>
internal sealed class UpstreamClientFactory(IHostResolver resolver, TimeProvider time, ILoggerFactory loggerFactory)
{
    public static UpstreamClientFactory Default { get; } = new(SystemHostResolver.Instance, TimeProvider.System, NullLoggerFactory.Instance);

    private readonly ILogger _logger = loggerFactory.CreateLogger("Turnpike.Connections");

    public HttpMessageInvoker CreateInvoker(UpstreamHttpConfig http, bool resolvesNames) =>
        new(CreateHandler(http, resolvesNames), disposeHandler: true);

    /// <param name="resolvesNames">Whether any destination of the cluster is a host name (not an IP literal).</param>
    public SocketsHttpHandler CreateHandler(UpstreamHttpConfig http, bool resolvesNames)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = http.Http2MultipleConnections,
            ConnectTimeout = http.ConnectTimeout,
            PooledConnectionIdleTimeout = http.PooledConnectionIdleTimeout,
            PooledConnectionLifetime = PooledConnectionLifetime(http, resolvesNames),
            MaxConnectionsPerServer = http.MaxConnectionsPerDestination,
            KeepAlivePingDelay = http.KeepAlivePingDelay == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : http.KeepAlivePingDelay,
            KeepAlivePingTimeout = http.KeepAlivePingTimeout,
            KeepAlivePingPolicy = http.KeepAlivePingPolicy == KeepAlivePingPolicy.Always ? HttpKeepAlivePingPolicy.Always : HttpKeepAlivePingPolicy.WithActiveRequests,
            // The handler counts in KiB.
            MaxResponseHeadersLength = (int)((http.MaxResponseHeadersSize + 1023) / 1024),
            // Tracing headers are the transforms' business, not the client's.
            ActivityHeadersPropagator = null,
        };

        // SocketsHttpHandler's own connect already sets TCP_NODELAY and is exactly right for IP destinations, so the
        // callback is installed only where it adds something: cached DNS for host names, or Nagle turned back on.
        if (resolvesNames || !http.NoDelay)
        {
            handler.ConnectCallback = new UpstreamConnector(new DnsCache(resolver, http.DnsRefresh, time, _logger), http.NoDelay, _logger).ConnectAsync;
        }

        if (http.DangerousAcceptAnyServerCertificate)
        {
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = static (_, _, _, _) => true };
        }

        return handler;
    }

    /// <summary>The connect step of the raw HTTP/1.1 engine: same DNS cache and TCP_NODELAY rules as the YARP engine's callback.</summary>
    public UpstreamConnector CreateConnector(UpstreamHttpConfig http) =>
        new(new DnsCache(resolver, http.DnsRefresh, time, _logger), http.NoDelay, _logger);

    /// <summary>
    /// Unset: connections to host names are recycled every <c>dnsRefresh</c> so a DNS change moves existing traffic
    /// too; connections to IP addresses live as long as they are used. Zero: no limit.
    /// </summary>
    internal static TimeSpan PooledConnectionLifetime(UpstreamHttpConfig http, bool resolvesNames) => http.PooledConnectionLifetime switch
    {
        null => resolvesNames ? http.DnsRefresh : Timeout.InfiniteTimeSpan,
        { } lifetime when lifetime == TimeSpan.Zero => Timeout.InfiniteTimeSpan,
        { } lifetime => lifetime,
    };
}
