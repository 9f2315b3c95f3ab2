using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>WebSocket pass-through: HTTP/1.1 upgrade and HTTP/2 extended CONNECT (RFC 8441) on the client side.</summary>
public sealed class WebSocketTests
{
    private const string CloseDescription = "client done";

    /// <summary>Accepts a WebSocket and echoes every message (text or binary, any size) until the client closes; then closes with the client's status.</summary>
    private static Task<TestBackend> StartEchoBackendAsync(HttpProtocols protocols = HttpProtocols.Http1) =>
        TestBackend.StartAsync(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("not a websocket request");
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[16 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Echo the close status with a marker so the test can tell the backend's close frame arrived.
                    await socket.CloseAsync(result.CloseStatus ?? WebSocketCloseStatus.Empty, "echo:" + result.CloseStatusDescription, context.RequestAborted);
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    await socket.SendAsync(message.ToArray(), result.MessageType, endOfMessage: true, context.RequestAborted);
                    message.SetLength(0);
                }
            }
        }, protocols, app => app.UseWebSockets());

    private static string Config(TestBackend backend, string listeners = "", string clusterHttp = "") => listeners + $$"""

        routes:
          ws:
            match: { pathPrefix: /ws }
            cluster: c
        clusters:
          c:
            destinations:
              d1: {{backend.Address}}
        {{clusterHttp}}
        """;

    [Fact]
    public async Task WebSocketOverHttp11EchoesTextAndBinaryAndClosesCleanly()
    {
        await using var backend = await StartEchoBackendAsync();
        await using var gw = await GatewayHost.StartAsync(Config(backend));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;

        await ws.ConnectAsync(new Uri($"ws://{gw.Url.Authority}/ws/echo"), cts.Token);

        Assert.Equal(WebSocketState.Open, ws.State);
        Assert.Equal(HttpStatusCode.SwitchingProtocols, ws.HttpStatusCode);
        await ExchangeAndCloseAsync(ws, cts.Token);
        Assert.Equal(1, backend.Requests);
    }

    [Fact]
    public async Task WebSocketOverH2cListenerUsesExtendedConnect()
    {
        await using var backend = await StartEchoBackendAsync();
        await using var gw = await GatewayHost.StartAsync(Config(backend, """
            listeners:
              h2c: { address: 127.0.0.1, port: 0, protocols: http2 }
            """));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        ws.Options.HttpVersion = HttpVersion.Version20;
        ws.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        await ws.ConnectAsync(new Uri($"ws://{gw.Url.Authority}/ws/echo-h2"), invoker, cts.Token);

        Assert.Equal(WebSocketState.Open, ws.State);
        // RFC 8441: the extended CONNECT is answered with 200, not 101.
        Assert.Equal(HttpStatusCode.OK, ws.HttpStatusCode);
        await ExchangeAndCloseAsync(ws, cts.Token);
        Assert.Equal(1, backend.Requests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WebSocketToHttp2UpstreamUsesExtendedConnectUpstream(bool h2Client)
    {
        await using var backend = await StartEchoBackendAsync(HttpProtocols.Http2);
        await using var gw = await GatewayHost.StartAsync(Config(
            backend,
            h2Client ? "listeners:\n  h2c: { address: 127.0.0.1, port: 0, protocols: http2 }\n" : "",
            """
                http: { version: "2" }
            """));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        ws.Options.HttpVersion = h2Client ? HttpVersion.Version20 : HttpVersion.Version11;
        ws.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;

        await ws.ConnectAsync(new Uri($"ws://{gw.Url.Authority}/ws/echo-upstream-h2"), invoker, cts.Token);

        Assert.Equal(WebSocketState.Open, ws.State);
        Assert.Equal(h2Client ? HttpStatusCode.OK : HttpStatusCode.SwitchingProtocols, ws.HttpStatusCode);
        await ExchangeAndCloseAsync(ws, cts.Token);
        Assert.Equal(1, backend.Requests);
    }

    private static async Task ExchangeAndCloseAsync(ClientWebSocket ws, CancellationToken cancellationToken)
    {
        var large = new byte[100 * 1024];
        new Random(42).NextBytes(large);
        var messages = new (WebSocketMessageType Type, byte[] Payload)[]
        {
            (WebSocketMessageType.Text, Encoding.UTF8.GetBytes("hello")),
            (WebSocketMessageType.Binary, [0, 1, 2, 3, 255, 254]),
            (WebSocketMessageType.Text, Encoding.UTF8.GetBytes("héllo wörld — ünïcode")),
            (WebSocketMessageType.Binary, large),
            (WebSocketMessageType.Text, Encoding.UTF8.GetBytes(new string('x', 70_000))),
        };

        foreach (var (type, payload) in messages)
        {
            await ws.SendAsync(payload, type, endOfMessage: true, cancellationToken);
            var (receivedType, received) = await ReceiveMessageAsync(ws, cancellationToken);
            Assert.Equal(type, receivedType);
            Assert.Equal(payload.Length, received.Length);
            Assert.True(payload.AsSpan().SequenceEqual(received), $"echo of a {payload.Length}-byte {type} message differs");
        }

        await ws.CloseAsync(WebSocketCloseStatus.PolicyViolation, CloseDescription, cancellationToken);

        Assert.Equal(WebSocketState.Closed, ws.State);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, ws.CloseStatus);
        Assert.Equal("echo:" + CloseDescription, ws.CloseStatusDescription);
    }

    private static async Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveMessageAsync(ClientWebSocket ws, CancellationToken cancellationToken)
    {
        var buffer = new byte[8 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer, cancellationToken);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }
}
