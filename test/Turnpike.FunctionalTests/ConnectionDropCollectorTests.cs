using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Cli;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>
/// <see cref="ConnectionDropCollector"/>: the rule (a drop of at least 256 connections and to at most half of the peak
/// since the last collection), and the real thing: a raw listener whose client connections open and close.
/// </summary>
public sealed class ConnectionDropCollectorTests
{
    [Fact]
    public void CollectsOnceAfterALargeDropAndNotInSteadyState()
    {
        var decision = new ConnectionDropCollector.Decision();
        int[] samples = [0, 500, 1000, 1000, 990, 1000, 800, 600]; // rising, steady, falling but above half
        foreach (var open in samples)
        {
            Assert.False(decision.ShouldCollect(open), $"collected at {open}");
        }

        Assert.True(decision.ShouldCollect(50));  // 1000 → 50
        Assert.False(decision.ShouldCollect(40)); // the peak is now 50: no second collection for the same drop
        Assert.False(decision.ShouldCollect(0));
        Assert.Equal(1, decision.Collections);
    }

    [Fact]
    public void SmallDropsNeverCollectEvenToZero()
    {
        var decision = new ConnectionDropCollector.Decision();
        for (var round = 0; round < 10; round++)
        {
            Assert.False(decision.ShouldCollect(ConnectionDropCollector.MinimumDrop - 1));
            Assert.False(decision.ShouldCollect(0));
        }

        Assert.Equal(0, decision.Collections);
    }

    [Fact]
    public void EveryNewBurstThatEndsCollectsAgain()
    {
        var decision = new ConnectionDropCollector.Decision();
        for (var burst = 1; burst <= 3; burst++)
        {
            Assert.False(decision.ShouldCollect(1000));
            Assert.True(decision.ShouldCollect(0));
            Assert.Equal(burst, decision.Collections);
        }
    }

    [Fact]
    public async Task RawListenerConnectionsThatCloseTriggerOneCollection()
    {
        await using var backend = await TestBackend.StartAsync(context => context.Response.WriteAsync("ok"));
        await using var gateway = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: """
            listeners:
              raw: { address: 127.0.0.1, port: 0, engine: raw }
            """));
        var time = new FakeTimeProvider();
        var collections = 0;
        using var collector = new ConnectionDropCollector(() => gateway.Server.OpenRawConnections, time, () => collections++);

        const int count = ConnectionDropCollector.MinimumDrop + 44;
        var sockets = new List<Socket>(count);
        try
        {
            var request = Encoding.ASCII.GetBytes("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
            var buffer = new byte[1024];
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(gateway.Url.Host, gateway.Url.Port);
                await socket.SendAsync(request);
                Assert.True(await socket.ReceiveAsync(buffer) > 0); // the listener has the connection and answered
            }

            Assert.Equal(count, gateway.Server.OpenRawConnections);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(0, collections); // open: nothing to collect
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        // The listener notices the closes (its reads end); bounded wait on real time for that, virtual time for the sampler.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (gateway.Server.OpenRawConnections > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, gateway.Server.OpenRawConnections);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, collections);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, collections);
        Assert.Equal(1, collector.Collections);
    }
}
