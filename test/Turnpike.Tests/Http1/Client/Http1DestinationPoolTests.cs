using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Http1.Client;
using Turnpike.Sockets;

namespace Turnpike.Tests.Http1.Client;

/// <summary>The raw engine's per-destination pool on virtual time: reuse, the slot cap, idle expiry, lifetime, disposal.</summary>
public sealed class Http1DestinationPoolTests
{
    private static (Http1ConnectionPool Cluster, Http1DestinationPool Pool, FakeTimeProvider Time) Create(UpstreamHttpConfig http)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-30T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var (cluster, pool) = TestPools.Create(http, time);
        return (cluster, pool, time);
    }

    [Fact]
    public void ReturnedConnectionIsRentedAgain()
    {
        var (_, pool, time) = Create(new UpstreamHttpConfig());
        var connection = pool.Create();
        pool.Return(connection);
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Same(connection, pool.Rent());
        Assert.Null(pool.Rent());
        Assert.Equal(1, pool.OpenConnections);
    }

    [Fact]
    public void TheLastReturnedConnectionIsRentedFirst()
    {
        var (_, pool, _) = Create(new UpstreamHttpConfig());
        var first = pool.Create();
        var second = pool.Create();
        var third = pool.Create();
        pool.Return(first);
        pool.Return(second);
        pool.Return(third);

        Assert.Same(third, pool.Rent()); // the last returned (its slot is the hint)
        Assert.Same(first, pool.Rent()); // then the lowest slot
        pool.Return(first);
        Assert.Same(first, pool.Rent());
        Assert.Same(second, pool.Rent());
        Assert.Null(pool.Rent());
    }

    [Fact]
    public async Task ARequestRentsAndOpensOnItsClientConnectionsEngineThread()
    {
        if (!SocketEngine.UseEpoll || SocketEngine.ThreadCount < 2)
        {
            return; // one engine thread (a one-core machine): nothing to choose
        }

        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        upstream.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        upstream.Listen();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-30T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var (cluster, pool) = TestPools.Create(new UpstreamHttpConfig(), time, $"http://127.0.0.1:{((IPEndPoint)upstream.LocalEndPoint!).Port}");
        var (zero, one) = (SocketEngine.ThreadAt(0), SocketEngine.ThreadAt(1));

        // Opened from this (non-engine) thread, each on the engine thread it was created for.
        var onZero = pool.Create(zero);
        var onOne = pool.Create(one);
        await onZero.ConnectAsync(CancellationToken.None);
        await onOne.ConnectAsync(CancellationToken.None);
        Assert.Same(zero, onZero.EngineThread);
        Assert.Same(one, onOne.EngineThread);

        pool.Return(onZero);
        pool.Return(onOne); // the last returned: what a request without an engine thread gets
        Assert.Same(onZero, pool.Rent(time.GetTimestamp(), zero));
        pool.Return(onZero);
        Assert.Same(onOne, pool.Rent(time.GetTimestamp(), one));
        Assert.Same(onZero, pool.Rent(time.GetTimestamp(), one)); // none of its own left: another thread's serves
        cluster.Dispose();
    }

    [Fact]
    public void ConnectionIdleForASecondHoldsNoBuffers()
    {
        var (cluster, pool, time) = Create(new UpstreamHttpConfig { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(8) });
        var connection = pool.Create();
        Assert.Equal(0, connection.BufferBytes); // nothing rented before an exchange needs it
        connection.BeginWrite();
        connection.Write("GET / HTTP/1.1\r\n\r\n"u8);
        Assert.True(connection.BufferBytes >= Http1UpstreamConnection.WriteBufferSize);

        pool.Return(connection);
        Assert.True(cluster.IdleBufferBytes > 0); // kept across back-to-back exchanges
        time.Advance(TimeSpan.FromSeconds(2)); // the sweep (every 2 s here) runs on virtual time
        Assert.Equal(0, connection.BufferBytes);
        Assert.Equal(0, cluster.IdleBufferBytes);
        Assert.Equal(1, pool.IdleConnections); // still pooled (the functional tests reuse such a connection)
        pool.Close(connection);
        Assert.Equal(0, pool.OpenConnections);
    }

    [Fact]
    public void HostHeaderOmitsTheDefaultPort()
    {
        var (cluster, pool, _) = Create(new UpstreamHttpConfig());
        Assert.Equal("127.0.0.1:9", System.Text.Encoding.ASCII.GetString(pool.HostHeader));
        Assert.Equal("api.internal", System.Text.Encoding.ASCII.GetString(cluster.For("http://api.internal").HostHeader));
        Assert.Equal("[::1]:8080", System.Text.Encoding.ASCII.GetString(cluster.For("http://[::1]:8080").HostHeader));
    }

    [Fact]
    public void IdleConnectionsBeyondTheCapAreClosed()
    {
        var (_, pool, _) = Create(new UpstreamHttpConfig { MaxConnectionsPerDestination = 2 });
        var connections = new[] { pool.Create(), pool.Create(), pool.Create() };
        foreach (var c in connections)
        {
            pool.Return(c);
        }

        Assert.Equal(2, pool.IdleConnections);
        Assert.Equal(2, pool.OpenConnections);
        Assert.NotNull(pool.Permits);
        Assert.Equal(2, pool.Permits!.CurrentCount);
    }

    [Fact]
    public void SweepClosesConnectionsIdleForTheIdleTimeout()
    {
        var (_, pool, time) = Create(new UpstreamHttpConfig { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(10) });
        pool.Return(pool.Create());
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(1, pool.IdleConnections);
        time.Advance(TimeSpan.FromSeconds(4)); // the sweep timer (every 2.5 s here) runs on virtual time
        Assert.Equal(0, pool.IdleConnections);
        Assert.Equal(0, pool.OpenConnections);
    }

    [Fact]
    public void ConnectionOlderThanTheLifetimeIsNotReused()
    {
        var (_, pool, time) = Create(new UpstreamHttpConfig { PooledConnectionLifetime = TimeSpan.FromSeconds(30) });
        var connection = pool.Create();
        time.Advance(TimeSpan.FromSeconds(31));
        pool.Return(connection);
        Assert.Equal(0, pool.IdleConnections);
        Assert.Equal(0, pool.OpenConnections);
    }

    [Fact]
    public void DisposedPoolClosesIdleConnectionsAndRefusesReturns()
    {
        var (cluster, pool, _) = Create(new UpstreamHttpConfig());
        var busy = pool.Create();
        pool.Return(pool.Create());
        cluster.Dispose();
        Assert.Equal(1, pool.OpenConnections);
        pool.Return(busy);
        Assert.Equal(0, pool.OpenConnections);
        Assert.Equal(0, pool.IdleConnections);
    }
}
