using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;
using Turnpike.Tests.Http1;

namespace Turnpike.FunctionalTests;

/// <summary>
/// The raw-socket HTTP/1.1 listener (<c>engine: raw</c>) over real sockets, in front of the real pipeline and a real
/// Kestrel backend: connection reuse, pipelining, body framings both ways, 100-continue, errors, the smuggling corpus.
/// </summary>
public sealed class RawListenerTests : IAsyncLifetime
{
    private TestBackend _backend = null!;
    private ConcurrentQueue<ReceivedRequest> _received = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        (_backend, _received) = await RecordingBackend.StartAsync();
        _gateway = await GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: """
            listeners:
              raw:
                address: 127.0.0.1
                port: 0
                engine: raw
            server:
              limits:
                maxRequestLineSize: 1KiB
                maxRequestHeadersTotalSize: 4KiB
                maxRequestBodySize: 1KiB
            """));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public void ListenerIsRaw() => Assert.Equal(Configuration.ListenerEngine.Raw, _gateway.Server.CurrentConfig.Listeners[0].Engine);

    [Fact]
    public async Task KeepAliveConnectionServesManyRequests()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        for (var i = 0; i < 5; i++)
        {
            await client.SendAsync($"GET /k/{i}?n={i} HTTP/1.1\r\nHost: x\r\nX-Same: v\r\n\r\n");
            var response = await client.ReadResponseAsync();
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);
            Assert.Equal($"/k/{i}?n={i}", response.Header("x-target"));
            Assert.Null(response.Header("connection"));
            Assert.NotNull(response.Header("date"));
        }

        Assert.Equal(5, _received.Count);
    }

    [Fact]
    public async Task PipelinedRequestsAreAnsweredInOrder()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync(
            "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n" +
            "POST /p/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
            "GET /p/3 HTTP/1.1\r\nHost: x\r\n\r\n");
        for (var i = 1; i <= 3; i++)
        {
            var response = await client.ReadResponseAsync();
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);
            Assert.Equal($"/p/{i}", response.Header("x-target"));
            Assert.Equal(i == 2 ? "got:abc" : "got:", response.BodyText);
        }
    }

    [Fact]
    public async Task ExpectContinueGets100ThenTheBodyGoesUpstream()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync("POST /expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        var interim = await client.ReadResponseAsync();
        Assert.NotNull(interim);
        Assert.Equal(100, interim.Status);
        await client.SendAsync("hello");
        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal("got:hello", response.BodyText);
    }

    [Fact]
    public async Task ChunkedRequestBodyReachesUpstreamIntact()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal("got:hello world", response.BodyText);
        Assert.True(_received.TryDequeue(out var upstream));
        Assert.Equal("hello world", Encoding.ASCII.GetString(upstream.Body));

        // The connection is still usable afterwards.
        await client.SendAsync("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync())?.Status);
    }

    [Fact]
    public async Task ChunkedResponseReachesClientIntact()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        Assert.Equal("chunked", response.Header("transfer-encoding"));
        Assert.Equal("part1-" + new string('z', 20_000) + "-end", response.BodyText);

        using var http = await _gateway.Client.GetAsync(_gateway.Combine("/chunked"));
        Assert.Equal("part1-" + new string('z', 20_000) + "-end", await http.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("HEAD /h HTTP/1.1", 200)]
    [InlineData("GET /status/204 HTTP/1.1", 204)]
    [InlineData("GET /status/304 HTTP/1.1", 304)]
    public async Task ResponsesWithoutBodyKeepTheConnectionUsable(string requestLine, int status)
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync(requestLine + "\r\nHost: x\r\n\r\n");
        var response = await client.ReadResponseAsync(headRequest: requestLine.StartsWith("HEAD", StringComparison.Ordinal));
        Assert.NotNull(response);
        Assert.Equal(status, response.Status);
        Assert.Null(response.Header("transfer-encoding"));

        // Had the gateway sent a body, it would be read as the next status line.
        await client.SendAsync("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        var next = await client.ReadResponseAsync();
        Assert.NotNull(next);
        Assert.Equal(200, next.Status);
        Assert.Equal("/next", next.Header("x-target"));
    }

    [Fact]
    public async Task Http10IsAnsweredAndClosed()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync("GET /old HTTP/1.0\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal("close", response.Header("connection"));
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ConnectionCloseIsHonoured()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync("GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.Equal("close", response?.Header("connection"));
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Theory]
    [InlineData(413)]
    [InlineData(414)]
    [InlineData(431)]
    public async Task LimitsAnswerTheirStatusAndClose(int status)
    {
        var request = status switch
        {
            413 => "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
            414 => $"GET /{new string('a', 2000)} HTTP/1.1\r\nHost: x\r\n\r\n",
            _ => $"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: {new string('b', 5000)}\r\n\r\n",
        };
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync(request);
        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        Assert.Equal(status, response.Status);
        Assert.Equal("close", response.Header("connection"));
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        Assert.Empty(_received);
    }

    [Fact]
    public async Task ChunkedBodyOverTheLimitGets413()
    {
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        var chunk = new string('y', 800);
        await client.SendAsync($"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n");
        var response = await client.ReadResponseAsync();
        Assert.True(response is null || response.Status is 413, response?.Head);
    }

    public static IEnumerable<object[]> CorpusNames => Http1RequestCorpus.Names;

    [Theory]
    [MemberData(nameof(CorpusNames))]
    public async Task SmugglingCorpusOverTheWire(string name)
    {
        var c = Http1RequestCorpus.Find(name);
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        await client.SendAsync(c.Raw);
        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        if (c.Status != 0)
        {
            Assert.Equal(c.Status, response.Status);
            await Task.Delay(100);
            Assert.Empty(_received);
            return;
        }

        Assert.InRange(response.Status, 100, 499);
        if (response.Status == 100)
        {
            response = await client.ReadResponseAsync();
            Assert.NotNull(response);
        }

        Assert.Equal(200, response.Status);
        Assert.True(_received.TryDequeue(out var upstream), "the valid request was not forwarded");
        Assert.Equal(c.Body, Encoding.Latin1.GetString(upstream.Body));
    }

    [Fact]
    public async Task ClientGoingAwayMidRequestHarmsNothing()
    {
        for (var i = 0; i < 5; i++)
        {
            using var client = await WireClient.ConnectAsync(_gateway.Url);
            await client.SendAsync("POST /half HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part");
            await Task.Delay(50);
        }

        using (var client = await WireClient.ConnectAsync(_gateway.Url))
        {
            await client.SendAsync("GET /half-he");
        }

        using var response = await _gateway.Client.GetAsync(_gateway.Combine("/still-fine"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ClientDisconnectWhileUpstreamIsSlowAbortsTheUpstreamCall()
    {
        var aborted = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var slow = await TestBackend.StartAsync(async context =>
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(20), context.RequestAborted);
                aborted.TrySetResult(false);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult(true);
            }
        });
        await using var gateway = await GatewayHost.StartAsync(Configs.CatchAll(slow.Address, top: "listeners:\n  raw: { address: 127.0.0.1, port: 0, engine: raw }"));
        using (var client = await WireClient.ConnectAsync(gateway.Url))
        {
            await client.SendAsync("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
            await Task.Delay(300);
        }

        Assert.True(await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10)), "the upstream request ran to its end");
    }

    [Fact]
    public async Task StopDrainsInFlightRequestsAndClosesIdleConnections()
    {
        await using var slow = await TestBackend.StartAsync(async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            context.Response.ContentLength = 4;
            await context.Response.WriteAsync("done");
        });
        var gateway = await GatewayHost.StartAsync(Configs.CatchAll(slow.Address, top: "listeners:\n  raw: { address: 127.0.0.1, port: 0, engine: raw }\nserver: { drainTimeout: 10s }"));
        await using (gateway)
        {
            using var idle = await WireClient.ConnectAsync(gateway.Url);
            await idle.SendAsync("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
            Assert.Equal(200, (await idle.ReadResponseAsync())?.Status);

            using var busy = await WireClient.ConnectAsync(gateway.Url);
            await busy.SendAsync("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
            await Task.Delay(200);
            var stopping = gateway.Server.StopAsync();

            Assert.True(await idle.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), "the idle keep-alive connection stayed open");
            var response = await busy.ReadResponseAsync();
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);
            Assert.Equal("done", response.BodyText);
            Assert.Equal("close", response.Header("connection"));
            await stopping.WaitAsync(TimeSpan.FromSeconds(10));
            using var probe = new TcpClient();
            await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, gateway.Url.Port));
        }
    }

    [Fact]
    public async Task RequestSplitAtEveryByteIsServed()
    {
        var random = new Random(8);
        var request = Encoding.ASCII.GetBytes("POST /split?q=1 HTTP/1.1\r\nHost: x\r\nX-A: some value\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
        using var client = await WireClient.ConnectAsync(_gateway.Url);
        for (var i = 0; i < request.Length; i++)
        {
            await client.SendAsync(new[] { request[i] });
            if (random.Next(4) == 0)
            {
                await Task.Delay(1);
            }
        }

        var response = await client.ReadResponseAsync();
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal("got:abcde", response.BodyText);
        Assert.Equal("/split?q=1", response.Header("x-target"));
    }

    [Fact]
    public async Task HttpClientKeepAliveAndConcurrentRequests()
    {
        var tasks = Enumerable.Range(0, 20).Select(async i =>
        {
            using var content = new StringContent(new string('q', i * 10));
            using var response = await _gateway.Client.PostAsync(_gateway.Combine($"/many/{i}"), content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("got:" + new string('q', i * 10), await response.Content.ReadAsStringAsync());
        });
        await Task.WhenAll(tasks);
    }

    [Fact]
    public async Task IdleConnectionClosesAfterKeepAliveTimeout()
    {
        await using var gateway = await GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: """
            listeners:
              raw: { address: 127.0.0.1, port: 0, engine: raw }
            server:
              limits: { keepAliveTimeout: 1s, requestHeadersTimeout: 1s }
            """));
        using var client = await WireClient.ConnectAsync(gateway.Url);
        await client.SendAsync("GET /once HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync())?.Status);
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(8)));

        using var slow = await WireClient.ConnectAsync(gateway.Url);
        await slow.SendAsync("GET /slow HTTP/1.1\r\nHost: x\r\n");
        var timeout = await slow.ReadResponseAsync(timeout: TimeSpan.FromSeconds(8));
        Assert.Equal(408, timeout?.Status);
    }
}
