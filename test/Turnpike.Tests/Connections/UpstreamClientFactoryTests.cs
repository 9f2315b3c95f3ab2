using System.Net.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Connections;

namespace Turnpike.Tests.Connections;

/// <summary>How <c>clusters.*.http</c> becomes the cluster's SocketsHttpHandler.</summary>
public sealed class UpstreamClientFactoryTests
{
    private readonly UpstreamClientFactory _factory = new(new ScriptedResolver(), new FakeTimeProvider(), NullLoggerFactory.Instance);

    [Fact]
    public void AppliesEverySetting()
    {
        var http = new UpstreamHttpConfig
        {
            MaxConnectionsPerDestination = 4,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            KeepAlivePingDelay = TimeSpan.FromSeconds(15),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(3),
            KeepAlivePingPolicy = KeepAlivePingPolicy.Always,
            Http2MultipleConnections = false,
            MaxResponseHeadersSize = 100 * 1024 + 1,
        };
        using var handler = _factory.CreateHandler(http, resolvesNames: false);

        Assert.Equal(4, handler.MaxConnectionsPerServer);
        Assert.Equal(TimeSpan.FromSeconds(30), handler.PooledConnectionIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), handler.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), handler.PooledConnectionLifetime);
        Assert.Equal(TimeSpan.FromSeconds(15), handler.KeepAlivePingDelay);
        Assert.Equal(TimeSpan.FromSeconds(3), handler.KeepAlivePingTimeout);
        Assert.Equal(HttpKeepAlivePingPolicy.Always, handler.KeepAlivePingPolicy);
        Assert.False(handler.EnableMultipleHttp2Connections);
        Assert.Equal(101, handler.MaxResponseHeadersLength); // KiB, rounded up
        Assert.False(handler.UseProxy);
        Assert.False(handler.AllowAutoRedirect);
        Assert.False(handler.UseCookies);
    }

    [Fact]
    public void DefaultsLeavePingsOffAndHeadersAtTheHandlersDefault()
    {
        using var handler = _factory.CreateHandler(new UpstreamHttpConfig(), resolvesNames: false);
        Assert.Equal(Timeout.InfiniteTimeSpan, handler.KeepAlivePingDelay);
        Assert.Equal(HttpKeepAlivePingPolicy.WithActiveRequests, handler.KeepAlivePingPolicy);
        Assert.Equal(64, handler.MaxResponseHeadersLength);
    }

    [Theory]
    [InlineData(null, false, -1)] // IP destinations: no limit
    [InlineData(null, true, 60)] // host names: recycled every dnsRefresh (1m)
    [InlineData(0, true, -1)] // 0 = no limit, even for host names
    [InlineData(0, false, -1)]
    [InlineData(300, true, 300)]
    [InlineData(300, false, 300)]
    public void PooledConnectionLifetimeDependsOnTheDestinations(int? configuredSeconds, bool resolvesNames, int expectedSeconds)
    {
        var http = new UpstreamHttpConfig { PooledConnectionLifetime = configuredSeconds is { } s ? TimeSpan.FromSeconds(s) : null };
        using var handler = _factory.CreateHandler(http, resolvesNames);
        Assert.Equal(expectedSeconds < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(expectedSeconds), handler.PooledConnectionLifetime);
    }

    [Theory]
    [InlineData(false, true, false)] // IP destinations with TCP_NODELAY: the handler's own connect, unchanged
    [InlineData(true, true, true)] // host names: the DNS cache
    [InlineData(false, false, true)] // Nagle on: only the callback can say so
    public void ConnectCallbackOnlyWhereItAddsSomething(bool resolvesNames, bool noDelay, bool expectCallback)
    {
        using var handler = _factory.CreateHandler(new UpstreamHttpConfig { NoDelay = noDelay }, resolvesNames);
        Assert.Equal(expectCallback, handler.ConnectCallback is not null);
    }

    [Fact]
    public void EachClientHasItsOwnDnsCacheWithTheClustersRefresh()
    {
        using var first = _factory.CreateHandler(new UpstreamHttpConfig { DnsRefresh = TimeSpan.FromSeconds(7) }, resolvesNames: true);
        using var second = _factory.CreateHandler(new UpstreamHttpConfig { DnsRefresh = TimeSpan.FromSeconds(7) }, resolvesNames: true);
        var a = Assert.IsType<UpstreamConnector>(first.ConnectCallback!.Target);
        var b = Assert.IsType<UpstreamConnector>(second.ConnectCallback!.Target);
        Assert.NotSame(a.Dns, b.Dns);
        Assert.Equal(TimeSpan.FromSeconds(7), a.Dns.Refresh);
    }
}
