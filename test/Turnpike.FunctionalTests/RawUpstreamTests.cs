using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;
using Turnpike.Http1.Client;

namespace Turnpike.FunctionalTests;

/// <summary>The raw HTTP/1.1 upstream engine (<c>clusters.*.http.engine: raw</c>) against real Kestrel and raw-socket upstreams.</summary>
public sealed class RawUpstreamTests
{
    private static string RawCluster(string address, string http = "") =>
        Configs.CatchAll(address, "engine: raw" + (http.Length == 0 ? string.Empty : "\n" + http));

    private static Http1ConnectionPool PoolOf(GatewayHost gw, string cluster = "c") =>
        gw.Server.Snapshot.Clusters[cluster].RawPool ?? throw new InvalidOperationException("cluster is not on the raw engine");

    private static async Task<TestBackend> ConnectionEchoAsync(ConcurrentBag<string> connections, RequestDelegate? then = null) =>
        await TestBackend.StartAsync(async context =>
        {
            connections.Add(context.Connection.Id);
            if (then is not null)
            {
                await then(context);
            }
            else
            {
                await context.Response.WriteAsync("ok");
            }
        });

    [Fact]
    public async Task KeepAliveConnectionIsReusedForSequentialRequests()
    {
        var connections = new ConcurrentBag<string>();
        await using var backend = await ConnectionEchoAsync(connections);
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address));
        for (var i = 0; i < 20; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine($"/r{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(20, connections.Count);
        Assert.Single(connections.Distinct());
        Assert.Equal(1, PoolOf(gw).OpenConnections);
    }

    [Fact]
    public async Task MaxConnectionsPerDestinationCapsOpenConnections()
    {
        var connections = new ConcurrentBag<string>();
        var inFlight = 0;
        var peak = 0;
        await using var backend = await ConnectionEchoAsync(connections, async context =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            await Task.Delay(100);
            Interlocked.Decrement(ref inFlight);
            await context.Response.WriteAsync("ok");
        });
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address, "maxConnectionsPerDestination: 2"));
        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => gw.Client.GetAsync(gw.Combine($"/{i}"))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(connections.Distinct().Count() <= 2, $"{connections.Distinct().Count()} connections");
        Assert.True(peak <= 2, $"peak {peak}");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    [Fact]
    public async Task IdleConnectionExpiresAfterIdleTimeout()
    {
        var connections = new ConcurrentBag<string>();
        await using var backend = await ConnectionEchoAsync(connections);
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address, "pooledConnectionIdleTimeout: 300ms"));
        (await gw.Client.GetAsync(gw.Combine("/a"))).EnsureSuccessStatusCode();
        var pool = PoolOf(gw);
        // The sweep runs every 250 ms at the shortest; generous margin before declaring it broken.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (pool.OpenConnections > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, pool.OpenConnections);
        (await gw.Client.GetAsync(gw.Combine("/b"))).EnsureSuccessStatusCode();
        Assert.Equal(2, connections.Distinct().Count());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RequestBodyIsStreamedWithContentLengthOrChunked(bool withLength)
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address));
        var payload = new byte[300_000];
        Random.Shared.NextBytes(payload);
        using var content = withLength ? new ByteArrayContent(payload) : (HttpContent)new StreamContent(new NonSeekableStream(payload));
        using var response = await gw.Client.PostAsync(gw.Combine("/upload"), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await Echo.ReadAsync(response);
        Assert.Equal(payload.Length, echo.BodyLength);
        if (withLength)
        {
            Assert.Equal(payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), echo.Header("content-length"));
            Assert.Null(echo.Header("transfer-encoding"));
        }
        else
        {
            Assert.Equal("chunked", echo.Header("transfer-encoding"));
            Assert.Null(echo.Header("content-length"));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ResponseBodyWithContentLengthOrChunkedArrivesWhole(bool withLength)
    {
        var payload = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("0123456789abcdef", 20_000)));
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            if (withLength)
            {
                context.Response.ContentLength = payload.Length;
            }

            for (var i = 0; i < payload.Length; i += 7000)
            {
                await context.Response.Body.WriteAsync(payload.AsMemory(i, Math.Min(7000, payload.Length - i)));
                await context.Response.Body.FlushAsync();
            }
        });
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address));
        long lastRoundStarted = 0;
        for (var round = 0; round < 2; round++)
        {
            lastRoundStarted = Stopwatch.GetTimestamp();
            using var response = await gw.Client.GetAsync(gw.Combine("/big"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            // (HttpClient computes a length for a buffered body, so the header is looked at as it arrived.)
            Assert.Equal(withLength, response.Content.Headers.NonValidated.Contains("Content-Length"));
            Assert.Equal(!withLength, response.Headers.TransferEncodingChunked == true);
            Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(1, PoolOf(gw).OpenConnections);
        bool heldWhenIdle = PoolOf(gw).IdleBufferBytes > 0;
        PoolOf(gw).Sweep(); // (the sweep's timer, run now: the connection has been idle for less than a second)
        bool heldAfterEarlySweep = PoolOf(gw).IdleBufferBytes > 0;
        // The connection went idle after the last round started: unless this machine stalled for a second since then
        // (then the pool's own sweep may rightly have taken the buffers already), it still holds them.
        if (Turnpike.Sockets.SocketEngine.UseEpoll)
        {
            // On the epoll engine the read buffer goes back as soon as the response was relayed whole, the write
            // buffer once the head was sent: an idle connection holds nothing even before the sweep.
            Assert.False(heldWhenIdle);
        }
        else if (Stopwatch.GetElapsedTime(lastRoundStarted) < Http1DestinationPool.ReleaseBuffersAfter)
        {
            Assert.True(heldWhenIdle);
            Assert.True(heldAfterEarlySweep);
        }

        await Task.Delay(Http1DestinationPool.ReleaseBuffersAfter + TimeSpan.FromMilliseconds(200));
        PoolOf(gw).Sweep();
        Assert.Equal(0, PoolOf(gw).IdleBufferBytes); // the idle connection gave its (grown) buffers back

        using var again = await gw.Client.GetAsync(gw.Combine("/big")); // and rents them again
        Assert.Equal(payload, await again.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, PoolOf(gw).OpenConnections);
    }

    [Fact]
    public async Task StreamingResponseReachesTheClientBeforeTheUpstreamFinishes()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: first\n\n");
            await context.Response.Body.FlushAsync();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await context.Response.WriteAsync("data: second\n\n");
        });
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address));
        using var response = await gw.Client.GetAsync(gw.Combine("/events"), HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("data: first\n\n", Encoding.ASCII.GetString(buffer, 0, read));
        release.SetResult();
        using var reader = new StreamReader(stream);
        Assert.Equal("data: second\n\n", await reader.ReadToEndAsync());
    }

    [Theory]
    [InlineData("HEAD", 200)]
    [InlineData("GET", 204)]
    [InlineData("GET", 304)]
    public async Task BodilessAnswersLeaveTheConnectionReusable(string method, int status)
    {
        var connections = new ConcurrentBag<string>();
        await using var backend = await ConnectionEchoAsync(connections, async context =>
        {
            context.Response.StatusCode = status;
            context.Response.Headers["x-status"] = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (status == 200)
            {
                context.Response.ContentLength = 5;
                if (!HttpMethods.IsHead(context.Request.Method))
                {
                    await context.Response.WriteAsync("hello");
                }
            }
        });
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address));
        for (var i = 0; i < 3; i++)
        {
            using var response = await gw.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), gw.Combine("/x")));
            Assert.Equal(status, (int)response.StatusCode);
            Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("x-status").Single());
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
            if (method == "HEAD")
            {
                Assert.Equal(5, response.Content.Headers.ContentLength);
            }
        }

        Assert.Single(connections.Distinct());
    }

    [Fact]
    public async Task InterimResponsesAreSkipped()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal"));
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address));
        for (var i = 0; i < 2; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("yes", response.Headers.GetValues("X-Final").Single());
            Assert.False(response.Headers.Contains("Link"));
            Assert.Equal("final", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, upstream.Connections);
    }

    [Fact]
    public async Task CloseDelimitedResponseIsForwardedAndTheConnectionNotReused()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Text("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", close: true));
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address));
        for (var i = 0; i < 2; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("until the end", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task PooledConnectionClosedByTheUpstreamIsRetriedOnceForAGet()
    {
        // Every answer is keep-alive by its framing, but the upstream closes the connection 50 ms later.
        await using var upstream = RawUpstream.Start(_ => RawReply.Ok() with { Close = true, CloseAfter = TimeSpan.FromMilliseconds(50) });
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address));
        for (var i = 0; i < 3; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine($"/g{i}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(300); // the upstream has closed the pooled connection by now
        }

        Assert.Equal(3, upstream.Requests);
        Assert.Equal(3, upstream.Connections);
    }

    [Fact]
    public async Task PooledConnectionClosedByTheUpstreamIsNotRetriedForAPostWithABody()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Ok() with { Close = true, CloseAfter = TimeSpan.FromMilliseconds(50) });
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address));
        (await gw.Client.GetAsync(gw.Combine("/first"))).EnsureSuccessStatusCode();
        await Task.Delay(300);
        using var response = await gw.Client.PostAsync(gw.Combine("/order"), new StringContent("pay once"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, upstream.Requests);
        Assert.Equal(1, upstream.Connections);
    }

    public static TheoryData<string> MalformedHeads => new()
    {
        "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +4\r\n\r\nabcd",
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked, chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "NOT HTTP AT ALL\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Big: " + new string('a', 70 * 1024) + "\r\nContent-Length: 0\r\n\r\n",
    };

    [Theory]
    [MemberData(nameof(MalformedHeads))]
    public async Task MalformedUpstreamHeadIs502AndTheConnectionIsDiscarded(string head)
    {
        await using var upstream = RawUpstream.Start(r => r.Target == "/bad" ? RawReply.Text(head) : RawReply.Ok());
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address));
        (await gw.Client.GetAsync(gw.Combine("/good"))).EnsureSuccessStatusCode();
        using var bad = await gw.Client.GetAsync(gw.Combine("/bad"));
        Assert.Equal(HttpStatusCode.BadGateway, bad.StatusCode);
        Assert.Equal(1, upstream.Connections);
        using var good = await gw.Client.GetAsync(gw.Combine("/good"));
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task InvalidChunkSizeAfterTheHeadAbortsTheClientResponse()
    {
        await using var upstream = RawUpstream.Start(r => r.Target == "/bad"
            ? RawReply.Text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n")
            : RawReply.Ok());
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address));
        using var response = await gw.Client.GetAsync(gw.Combine("/bad"), HttpCompletionOption.ResponseHeadersRead);
        // The head may already be on its way (200) or not (502); either way the body must not end cleanly.
        if (response.StatusCode == HttpStatusCode.OK)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsByteArrayAsync());
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        (await gw.Client.GetAsync(gw.Combine("/good"))).EnsureSuccessStatusCode();
        Assert.Equal(2, upstream.Connections);
    }

    [Fact]
    public async Task SilentUpstreamIs504AfterTheActivityTimeout()
    {
        await using var upstream = RawUpstream.Start(_ => RawReply.Ok() with { Delay = TimeSpan.FromSeconds(20) });
        await using var gw = await GatewayHost.StartAsync(RawCluster(upstream.Address, "activityTimeout: 500ms"));
        using var response = await gw.Client.GetAsync(gw.Combine("/slow"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream_timeout", response.Headers.GetValues("x-turnpike-error").Single());
    }

    [Fact]
    public async Task RefusedDestinationFailsOverToTheNextOne()
    {
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var backend = await TestBackend.StartEchoAsync("alive");
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"dead: http://127.0.0.1:{port}\nalive: {backend.Address}", "engine: raw", cluster: "loadBalancing: { policy: round_robin }"));
        for (var i = 0; i < 4; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/x"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("alive", (await Echo.ReadAsync(response)).Backend);
        }
    }

    [Fact]
    public async Task ReloadKeepsThePoolWhenTheClusterIsUnchangedAndDisposesItOtherwise()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var yaml = RawCluster(backend.Address);
        await using var gw = await GatewayHost.StartAsync(yaml);
        (await gw.Client.GetAsync(gw.Combine("/a"))).EnsureSuccessStatusCode();
        var before = PoolOf(gw);
        await gw.WriteConfigAsync(yaml + "\n# touched\n");
        Assert.Empty(await gw.Server.ReloadAsync());
        Assert.Same(before, PoolOf(gw));
        await gw.WriteConfigAsync(RawCluster(backend.Address, "connectTimeout: 3s"));
        Assert.Empty(await gw.Server.ReloadAsync());
        Assert.NotSame(before, PoolOf(gw));
        Assert.True(before.IsDisposed);
        Assert.Equal(0, before.OpenConnections);
    }

    [Fact]
    public async Task WebSocketUpgradeGoesThroughTheYarpEngine()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            if (context.WebSockets.IsWebSocketRequest)
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[64];
                var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                await socket.SendAsync(buffer.AsMemory(0, received.Count), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
                await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
        }, configure: app => app.UseWebSockets());
        await using var gw = await GatewayHost.StartAsync(RawCluster(backend.Address));
        using var client = new System.Net.WebSockets.ClientWebSocket();
        await client.ConnectAsync(new Uri($"ws://{gw.Url.Authority}/ws"), CancellationToken.None);
        await client.SendAsync("ping"u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
        var answer = new byte[64];
        var result = await client.ReceiveAsync(answer, CancellationToken.None);
        Assert.Equal("ping", Encoding.ASCII.GetString(answer, 0, result.Count));
    }

    private sealed class NonSeekableStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, Math.Min(8192, data.Length - _position));
            data.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
