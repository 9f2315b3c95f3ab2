using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>
/// Connection limits at accept time (listeners.*.connectionLimits): over-limit connections are closed before a byte
/// is read, counted on GET /admin/connections, and do not affect other clients. 127.0.0.2 plays a second client IP.
/// </summary>
public sealed class ConnectionLimitTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Attacker = "127.0.0.2";
    private TestBackend _backend = null!;

    public async Task InitializeAsync() =>
        _backend = await TestBackend.StartAsync(context =>
        {
            context.Response.ContentLength = 2;
            return context.Response.WriteAsync("ok");
        });

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    private Task<GatewayHost> StartAsync(string connectionLimits, Action<IServiceCollection>? services = null, string server = "") =>
        GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: $"""
            {server}
            listeners:
              main:
                address: 127.0.0.1
                port: 0
                connectionLimits: {connectionLimits}
            """), services);

    [Fact]
    public async Task TheEleventhConcurrentConnectionFromOneIpIsClosedWhileTenStayOpen()
    {
        await using var gateway = await StartAsync("{ perIp: 10 }");
        var open = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                open.Add(await RawConnection.OpenAsync(gateway.Url, Attacker));
                Assert.Equal(200, await open[i].GetAsync()); // accepted, and kept alive
            }

            var refusedAfter = await AssertRefusedAsync(gateway, Attacker);
            output.WriteLine($"11th connection closed by the gateway after {refusedAfter.TotalMilliseconds:F1} ms (connect included)");

            foreach (var connection in open)
            {
                Assert.Equal(200, await connection.GetAsync()); // the ten are untouched
            }

            // Another client IP is not affected by this one's limit.
            using (var other = await RawConnection.OpenAsync(gateway.Url, "127.0.0.1"))
            {
                Assert.Equal(200, await other.GetAsync());
            }

            // Closing one of the ten frees a slot.
            open[0].Dispose();
            open.RemoveAt(0);
            await WaitForAsync(gateway, s => s.GetProperty("active").GetInt32() == 9);
            using var again = await RawConnection.OpenAsync(gateway.Url, Attacker);
            Assert.Equal(200, await again.GetAsync());

            var stats = await ConnectionsAsync(gateway);
            output.WriteLine(stats.ToString());
            Assert.Equal(1, stats.GetProperty("rejectedBy").GetProperty("perIpLimit").GetInt64());
            var listener = stats.GetProperty("listeners")[0];
            Assert.Equal("main", listener.GetProperty("name").GetString());
            Assert.Equal(12, listener.GetProperty("accepted").GetInt64());
            Assert.Equal(2, listener.GetProperty("trackedIps").GetInt32());
        }
        finally
        {
            open.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task TheSixthNewConnectionWithinASecondFromOneIpIsRefused()
    {
        // Frozen time: "within a second" holds however slow the machine is; then time moves on by hand.
        var time = new FakeTimeProvider();
        await using var gateway = await StartAsync("{ newPerIpPerSecond: 5 }", s => s.AddSingleton<TimeProvider>(time));
        for (var i = 0; i < 5; i++)
        {
            using var connection = await RawConnection.OpenAsync(gateway.Url, Attacker);
            Assert.Equal(200, await connection.GetAsync());
        }

        await AssertRefusedAsync(gateway, Attacker);

        using (var otherIp = await RawConnection.OpenAsync(gateway.Url, "127.0.0.1"))
        {
            Assert.Equal(200, await otherIp.GetAsync());
        }

        time.Advance(TimeSpan.FromMilliseconds(200)); // one more token
        using (var later = await RawConnection.OpenAsync(gateway.Url, Attacker))
        {
            Assert.Equal(200, await later.GetAsync());
        }

        await AssertRefusedAsync(gateway, Attacker);

        var stats = await ConnectionsAsync(gateway);
        Assert.Equal(2, stats.GetProperty("rejectedBy").GetProperty("rateLimit").GetInt64());
        Assert.Equal(7, stats.GetProperty("accepted").GetInt64());
    }

    [Fact]
    public async Task AnExemptIpIsNotLimited()
    {
        await using var gateway = await StartAsync("{ perIp: 2, newPerIpPerSecond: 2, exempt: [127.0.0.1/32] }");
        var exempt = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                exempt.Add(await RawConnection.OpenAsync(gateway.Url, "127.0.0.1"));
                Assert.Equal(200, await exempt[i].GetAsync());
            }

            using var a1 = await RawConnection.OpenAsync(gateway.Url, Attacker);
            Assert.Equal(200, await a1.GetAsync());
            using var a2 = await RawConnection.OpenAsync(gateway.Url, Attacker);
            Assert.Equal(200, await a2.GetAsync());
            await AssertRefusedAsync(gateway, Attacker);
        }
        finally
        {
            exempt.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task OneIpOpeningHundredsOfIdleConnectionsDoesNotStarveOthers()
    {
        const int attempts = 300;
        await using var gateway = await StartAsync("{ perIp: 10, total: 1000 }");
        var attacker = new List<RawConnection>(attempts);
        var resetDuringConnect = 0;
        try
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < attempts; i++)
            {
                if (await RawConnection.TryOpenAsync(gateway.Url, Attacker) is { } connection)
                {
                    attacker.Add(connection);
                }
                else
                {
                    resetDuringConnect++; // closed so fast that the connect call saw the reset
                }
            }

            var opened = watch.Elapsed;
            await WaitForAsync(gateway, s => s.GetProperty("accepted").GetInt64() + s.GetProperty("rejected").GetInt64() >= attempts);
            var settled = watch.Elapsed;

            // A client from another IP is served at once.
            watch.Restart();
            for (var i = 0; i < 5; i++)
            {
                using var client = await RawConnection.OpenAsync(gateway.Url, "127.0.0.1");
                Assert.Equal(200, await client.GetAsync());
            }

            var served = watch.Elapsed;
            // The five clients have closed their connections; the gateway counts a close once it has seen it.
            await WaitForAsync(gateway, s => s.GetProperty("active").GetInt32() <= 10);
            var stats = await ConnectionsAsync(gateway);
            // Every refused connection has been closed by now; the accepted ten are still open (all checked at once, 1 s).
            var verdicts = await Task.WhenAll(attacker.Select(c => c.IsClosedByServerAsync(TimeSpan.FromSeconds(1))));
            var closed = resetDuringConnect + verdicts.Count(v => v);

            output.WriteLine($"{attempts} connections from {Attacker} opened in {opened.TotalMilliseconds:F0} ms, all decided after {settled.TotalMilliseconds:F0} ms; "
                + $"{closed} closed by the gateway ({resetDuringConnect} while connecting); 5 requests from 127.0.0.1 took {served.TotalMilliseconds:F0} ms; stats: {stats}");
            Assert.Equal(attempts - 10, stats.GetProperty("rejectedBy").GetProperty("perIpLimit").GetInt64());
            Assert.Equal(attempts - 10, closed);
            Assert.Equal(10, stats.GetProperty("active").GetInt32());
        }
        finally
        {
            attacker.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task TheServerWideDefaultAppliesAndMaxConcurrentConnectionsIsCounted()
    {
        await using var gateway = await StartAsync("{ newPerIpPerSecond: 1000 }", server: """
            server:
              limits: { maxConcurrentConnections: 3 }
              connectionLimits: { perIp: 2 }
            """);
        using var a1 = await RawConnection.OpenAsync(gateway.Url, Attacker);
        Assert.Equal(200, await a1.GetAsync());
        using var a2 = await RawConnection.OpenAsync(gateway.Url, Attacker);
        Assert.Equal(200, await a2.GetAsync());
        await AssertRefusedAsync(gateway, Attacker); // perIp 2 inherited from the server default
        using var b1 = await RawConnection.OpenAsync(gateway.Url, "127.0.0.1");
        Assert.Equal(200, await b1.GetAsync());
        await AssertRefusedAsync(gateway, "127.0.0.1"); // global cap 3
        var stats = await ConnectionsAsync(gateway);
        Assert.Equal(3, stats.GetProperty("maxConcurrentConnections").GetInt32());
        Assert.Equal((1L, 1L), (stats.GetProperty("rejectedBy").GetProperty("perIpLimit").GetInt64(), stats.GetProperty("rejectedBy").GetProperty("globalLimit").GetInt64()));
    }

    /// <summary>A new connection from <paramref name="source"/> is closed by the gateway without an answer (possibly before the connect call returns).</summary>
    private static async Task<TimeSpan> AssertRefusedAsync(GatewayHost gateway, string source)
    {
        var watch = Stopwatch.StartNew();
        using var connection = await RawConnection.TryOpenAsync(gateway.Url, source);
        Assert.True(connection is null || await connection.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), $"a connection from {source} was not closed");
        return watch.Elapsed;
    }

    private static async Task<JsonElement> ConnectionsAsync(GatewayHost gateway)
    {
        using var client = GatewayHost.CreateClient();
        var json = await client.GetStringAsync(new Uri(gateway.AdminUrl, "/admin/connections"));
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    private static async Task WaitForAsync(GatewayHost gateway, Func<JsonElement, bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (condition(await ConnectionsAsync(gateway)))
            {
                return;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"condition not met in 10 s: {await ConnectionsAsync(gateway)}");
    }
}
