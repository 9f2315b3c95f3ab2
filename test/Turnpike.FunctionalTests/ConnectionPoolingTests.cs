using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turnpike.Connections;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Connection pools per destination (clusters.*.http) and the DNS cache in front of host-name destinations.</summary>
public sealed class ConnectionPoolingTests
{
    private static async Task AssertGatewayError(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(reason, response.Headers.GetValues("x-turnpike-error").Single());
        Assert.Contains($"\"error\":\"{reason}\"", await response.Content.ReadAsStringAsync());
    }

    private static Action<IServiceCollection> Using(IHostResolver resolver) => services => services.AddSingleton(resolver);

    [Fact]
    public async Task LocalhostDestinationProxies()
    {
        await using var backend = await TestBackend.StartEchoAsync("local");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"http://localhost:{backend.Url.Port}"));
        for (var i = 0; i < 3; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/x"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("local", (await Echo.ReadAsync(response)).Backend);
        }
    }

    [Fact]
    public async Task DnsChangeIsPickedUpWithoutRestart()
    {
        // Two backends on one port, at 127.0.0.1 and [::1]: only the "DNS" answer decides which one is reached.
        var (a, b) = await StartOnBothLoopbacksAsync();
        await using var _ = a;
        await using var __ = b;
        var resolver = new MapResolver();
        resolver.Set("svc.turnpike.test", IPAddress.Loopback);
        await using var gw = await GatewayHost.StartAsync(
            Configs.CatchAll($"http://svc.turnpike.test:{a.Port}", "dnsRefresh: 300ms"), Using(resolver));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("v4", await BackendOfAsync(gw));
        }

        Assert.Equal(1, resolver.Lookups);
        resolver.Set("svc.turnpike.test", IPAddress.IPv6Loopback);

        // Within dnsRefresh the answer expires and pooled connections (lifetime = dnsRefresh) are replaced.
        var seen = new List<string>();
        for (var i = 0; i < 100 && (seen.Count == 0 || seen[^1] != "v6"); i++)
        {
            await Task.Delay(50);
            seen.Add(await BackendOfAsync(gw));
        }

        Assert.Equal("v6", seen[^1]);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("v6", await BackendOfAsync(gw));
        }

        Assert.True(resolver.Lookups >= 2);
        Assert.True(a.Requests >= 3);
    }

    [Theory]
    [InlineData("maxConnectionsPerDestination: 1", 1)]
    [InlineData("", 4)]
    public async Task MaxConnectionsPerDestinationLimitsUpstreamConnections(string http, int expectedConnections)
    {
        const int Requests = 4;
        var connections = new ConcurrentDictionary<string, byte>();
        var inFlight = 0;
        var maxInFlight = 0;
        var allInside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            connections.TryAdd(context.Connection.Id, 0);
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            if (now == Requests)
            {
                allInside.TrySetResult();
            }

            // Each request is held until all are inside at once (only possible without a limit), or briefly when
            // they arrive one at a time, so an unlimited pool is seen to open a connection per request.
            await Task.WhenAny(allInside.Task, Task.Delay(expectedConnections == Requests ? 5000 : 150, context.RequestAborted));
            Interlocked.Decrement(ref inFlight);
            await context.Response.WriteAsync("ok");
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, http));

        // Concurrent client requests (the client opens a connection to the gateway for each).
        var responses = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => gw.Client.GetAsync(gw.Combine("/x"))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses)
        {
            r.Dispose();
        }

        Assert.Equal(expectedConnections, connections.Count);
        Assert.Equal(expectedConnections, maxInFlight);
    }

    [Fact]
    public async Task RefusedHostNameDestinationIs502ConnectionRefused()
    {
        var (dead, hold) = Configs.RefusingPort();
        using var _ = hold;
        var resolver = new MapResolver();
        resolver.Set("dead.turnpike.test", IPAddress.Loopback);
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"http://dead.turnpike.test:{dead}"), Using(resolver));
        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        await AssertGatewayError(response, HttpStatusCode.BadGateway, "connection_refused");
    }

    [Fact]
    public async Task UnresolvableHostNameIs502ConnectionRefusedAndRetriedOnAnotherDestination()
    {
        await using var backend = await TestBackend.StartEchoAsync("alive");
        var resolver = new MapResolver();
        resolver.Set("alive.turnpike.test", IPAddress.Loopback);
        await using (var gw = await GatewayHost.StartAsync(Configs.CatchAll("http://nowhere.turnpike.test:80"), Using(resolver)))
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/x"));
            await AssertGatewayError(response, HttpStatusCode.BadGateway, "connection_refused");
        }

        await using (var gw = await GatewayHost.StartAsync(
            Configs.CatchAll($"nowhere: http://nowhere.turnpike.test:80\nalive: http://alive.turnpike.test:{backend.Url.Port}"), Using(resolver)))
        {
            for (var i = 0; i < 4; i++)
            {
                using var response = await gw.Client.PostAsync(gw.Combine("/x"), new StringContent("once"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }
    }

    [Fact]
    public async Task HangingDnsLookupIs504ConnectTimeout()
    {
        var resolver = new MapResolver { Hang = true };
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll("http://slow-dns.turnpike.test:80", "connectTimeout: 300ms"), Using(resolver));
        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        await AssertGatewayError(response, HttpStatusCode.GatewayTimeout, "connect_timeout");
    }

    [Fact]
    public async Task ConnectTimeoutIsRetriedOnAnotherDestination()
    {
        await using var backend = await TestBackend.StartEchoAsync("alive");
        var resolver = new MapResolver { Hang = true };
        await using var gw = await GatewayHost.StartAsync(
            Configs.CatchAll($"slow: http://slow-dns.turnpike.test:80\nalive: {backend.Address}", "connectTimeout: 300ms"), Using(resolver));

        // A connect that timed out never carried the request, so even a POST moves to the other destination.
        for (var i = 0; i < 2; i++)
        {
            using var response = await gw.Client.PostAsync(gw.Combine("/x"), new StringContent("once"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(2, backend.Requests);
    }

    [Fact]
    public async Task Ipv6LiteralWithNagleOnGoesThroughTheCallbackWithoutDns()
    {
        await using var backend = await Backend.StartAsync(new IPEndPoint(IPAddress.IPv6Loopback, 0), "v6");
        var resolver = new MapResolver();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"http://[::1]:{backend.Port}", "noDelay: false"), Using(resolver));
        Assert.Equal("v6", await BackendOfAsync(gw));
        Assert.Equal(0, resolver.Lookups);
    }

    [Theory]
    [InlineData("", HttpStatusCode.OK)]
    [InlineData("maxResponseHeadersSize: 2KiB", HttpStatusCode.BadGateway)]
    public async Task MaxResponseHeadersSizeLimitsTheUpstreamsHeaders(string http, HttpStatusCode expected)
    {
        await using var backend = await TestBackend.StartAsync(context =>
        {
            context.Response.Headers["x-big"] = new string('a', 4096);
            return context.Response.WriteAsync("ok");
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, http));
        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        else
        {
            await AssertGatewayError(response, expected, "upstream_error");
        }
    }

    private static async Task<string> BackendOfAsync(GatewayHost gw)
    {
        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await Echo.ReadAsync(response)).Backend;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Echo backends "v4" at 127.0.0.1:P and "v6" at [::1]:P (the same port P).</summary>
    private static async Task<(Backend V4, Backend V6)> StartOnBothLoopbacksAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            var v4 = await Backend.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), "v4");
            try
            {
                return (v4, await Backend.StartAsync(new IPEndPoint(IPAddress.IPv6Loopback, v4.Port), "v6"));
            }
            catch (IOException) when (attempt < 5)
            {
                // [::1]:P was taken by someone else: try another port.
                await v4.DisposeAsync();
            }
        }
    }

    /// <summary>An echo backend on a given loopback endpoint (TestBackend binds 127.0.0.1 only).</summary>
    private sealed class Backend : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private Backend(WebApplication app, int port)
        {
            _app = app;
            Port = port;
        }

        public int Port { get; }

        public int Requests => Volatile.Read(ref _requests);

        public static async Task<Backend> StartAsync(IPEndPoint endPoint, string name)
        {
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            builder.WebHost.UseKestrelCore();
            builder.Logging.SetMinimumLevel(LogLevel.Critical);
            builder.WebHost.ConfigureKestrel(o => o.Listen(endPoint));
            var app = builder.Build();
            Backend? backend = null;
            app.Run(context =>
            {
                Interlocked.Increment(ref backend!._requests);
                return Echo.WriteAsync(context, name);
            });
            try
            {
                await app.StartAsync();
            }
            catch
            {
                await app.DisposeAsync();
                throw;
            }

            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var port = new Uri(address).Port;
            backend = new Backend(app, port);
            return backend;
        }

        public async ValueTask DisposeAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _app.StopAsync(cts.Token);
            await _app.DisposeAsync();
        }
    }

    /// <summary>"DNS" for the gateway under test: a map the test changes while the gateway runs.</summary>
    private sealed class MapResolver : IHostResolver
    {
        private readonly ConcurrentDictionary<string, IPAddress[]> _map = new(StringComparer.OrdinalIgnoreCase);
        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        /// <summary>Lookups never answer (until canceled).</summary>
        public bool Hang { get; init; }

        public void Set(string host, params IPAddress[] addresses) => _map[host] = addresses;

        public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _lookups);
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return _map.TryGetValue(host, out var addresses) ? addresses : throw new SocketException((int)SocketError.HostNotFound);
        }
    }
}
