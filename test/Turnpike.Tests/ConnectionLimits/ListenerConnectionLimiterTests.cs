using System.Net;
using Microsoft.Extensions.Time.Testing;
using Turnpike.ConnectionLimits;
using Turnpike.Configuration;

namespace Turnpike.Tests.ConnectionLimits;

public sealed class ListenerConnectionLimiterTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("192.0.2.1"), 40000);
    private static readonly IPEndPoint Other = new(IPAddress.Parse("192.0.2.2"), 40000);
    private static readonly IPEndPoint HealthChecker = new(IPAddress.Parse("10.1.1.1"), 40000);

    private static ConnectionLimiter Limiter(ConnectionLimitsConfig? limits, int? maxConcurrentConnections = null, int listeners = 1) =>
        new(new GatewayConfig
        {
            Server = new ServerConfig { Limits = new LimitsConfig { MaxConcurrentConnections = maxConcurrentConnections } },
            Listeners = [.. Enumerable.Range(0, listeners).Select(i => new ListenerConfig { Name = $"l{i}", ConnectionLimits = limits })],
        }, new FakeTimeProvider());

    [Fact]
    public void ExemptIpsAreNotLimitedPerIpButCountTowardTheTotal()
    {
        using var limiter = Limiter(new ConnectionLimitsConfig { PerIp = 1, NewPerIpPerSecond = 1, Total = 5, Exempt = ["10.0.0.0/8"] });
        var l = limiter.ForListener("l0");
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(HealthChecker, out var entry));
            Assert.Null(entry);
        }

        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(Client, out var tracked));
        Assert.NotNull(tracked);
        Assert.Equal(ConnectionVerdict.ListenerLimit, l.TryAccept(HealthChecker, out _));
        Assert.Equal(5, l.Active);
        Assert.Equal(1, l.Tracker!.Count); // exempt IPs take no table entry
        Assert.Equal((5L, 1L), (l.Counters.Accepted, l.Counters.ListenerLimit));
    }

    [Fact]
    public void CountsEachRefusalByReasonAndReleasesWhatItTook()
    {
        using var limiter = Limiter(new ConnectionLimitsConfig { PerIp = 2, NewPerIpPerSecond = 3 });
        var l = limiter.ForListener("l0");
        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(Client, out var e1));
        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(Client, out var e2));
        Assert.Equal(ConnectionVerdict.PerIpLimit, l.TryAccept(Client, out _));
        l.Release(e1);
        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(Client, out var e3));
        l.Release(e3);
        Assert.Equal(ConnectionVerdict.RateLimit, l.TryAccept(Client, out _));
        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(Other, out _));
        Assert.Equal((3L + 1, 1L, 1L), (l.Counters.Accepted, l.Counters.PerIpLimit, l.Counters.RateLimit));
        Assert.Equal(2, l.Active); // e2 and Other
        Assert.Equal(2, limiter.Active);
        l.Release(e2);
        Assert.Equal(1, limiter.Active);
    }

    [Fact]
    public void TheGlobalCapSpansListeners()
    {
        using var limiter = Limiter(limits: null, maxConcurrentConnections: 3, listeners: 2);
        Assert.True(limiter.Enforces("l0"));
        var a = limiter.ForListener("l0");
        var b = limiter.ForListener("l1");
        Assert.Equal(ConnectionVerdict.Accepted, a.TryAccept(Client, out _));
        Assert.Equal(ConnectionVerdict.Accepted, a.TryAccept(Client, out _));
        Assert.Equal(ConnectionVerdict.Accepted, b.TryAccept(Client, out _));
        Assert.Equal(ConnectionVerdict.GlobalLimit, b.TryAccept(Other, out _));
        a.Release(null);
        Assert.Equal(ConnectionVerdict.Accepted, b.TryAccept(Other, out _));
        Assert.Equal((1L, 3), (b.Counters.GlobalLimit, limiter.Active));
    }

    [Fact]
    public void NoMiddlewareWithoutLimits()
    {
        using var none = Limiter(limits: null);
        Assert.False(none.Enforces("l0"));
        using var onlyExempt = Limiter(new ConnectionLimitsConfig { Exempt = ["10.0.0.0/8"] });
        Assert.False(onlyExempt.Enforces("l0"));
        Assert.Null(onlyExempt.ForListener("l0").Tracker);
        using var totalOnly = Limiter(new ConnectionLimitsConfig { Total = 10 });
        Assert.True(totalOnly.Enforces("l0"));
        Assert.Null(totalOnly.ForListener("l0").Tracker);
    }

    [Fact]
    public void ConnectionsWithoutAnIpAreNotTracked()
    {
        using var limiter = Limiter(new ConnectionLimitsConfig { PerIp = 1 });
        var l = limiter.ForListener("l0");
        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(new System.Net.Sockets.UnixDomainSocketEndPoint("/tmp/x.sock"), out var a));
        Assert.Equal(ConnectionVerdict.Accepted, l.TryAccept(null, out var b));
        Assert.Null(a);
        Assert.Null(b);
    }
}
