using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>
/// Flood resistance that comes from the server's own limits: idle connections are reaped by
/// <c>server.limits.keepAliveTimeout</c>, and an HTTP/2 client that opens and cancels streams in a tight loop
/// (rapid reset, CVE-2023-44487) is disconnected with a GOAWAY.
/// </summary>
public sealed class FloodResistanceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestBackend _backend = null!;

    public async Task InitializeAsync() =>
        _backend = await TestBackend.StartAsync(async context =>
        {
            // Slow enough that a reset stream is still running when the next ones arrive, as with a real upstream.
            await Task.Delay(TimeSpan.FromMilliseconds(200), context.RequestAborted);
            context.Response.ContentLength = 2;
            await context.Response.WriteAsync("ok");
        });

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task IdleConnectionsAreClosedAfterTheKeepAliveTimeout()
    {
        await using var gateway = await GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: "server: { limits: { keepAliveTimeout: 1s } }"));
        using var silent = await RawConnection.OpenAsync(gateway.Url);     // never sends a byte
        using var keptAlive = await RawConnection.OpenAsync(gateway.Url);  // one request, then idle
        Assert.Equal(200, await keptAlive.GetAsync());

        var watch = Stopwatch.StartNew();
        var closed = await Task.WhenAll(silent.IsClosedByServerAsync(TimeSpan.FromSeconds(6)), keptAlive.IsClosedByServerAsync(TimeSpan.FromSeconds(6)));
        output.WriteLine($"both idle connections closed within {watch.Elapsed.TotalSeconds:F2} s (keepAliveTimeout 1 s, Kestrel checks once a second)");
        Assert.Equal([true, true], closed);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task AnOpenConnectionWithinTheTimeoutIsNotReaped()
    {
        await using var gateway = await GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: "server: { limits: { keepAliveTimeout: 5s } }"));
        using var connection = await RawConnection.OpenAsync(gateway.Url);
        Assert.False(await connection.IsClosedByServerAsync(TimeSpan.FromSeconds(1.5)));
        Assert.Equal(200, await connection.GetAsync());
    }

    [Fact]
    public async Task RapidResetGetsTheConnectionClosedWithGoAway()
    {
        await using var gateway = await GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: """
            listeners:
              h2c:
                address: 127.0.0.1
                port: 0
                protocols: http2
            server:
              limits: { http2MaxStreamsPerConnection: 100 }
            """));

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.Url.Port), cts.Token);
        var reader = ReadFramesAsync(socket, cts.Token);

        // Preface and an empty SETTINGS, then HEADERS (GET /, END_STREAM) + RST_STREAM (CANCEL) on streams 1, 3, 5 …,
        // 200 pairs per write, at most 20 000 pairs (or until the server hangs up).
        await socket.SendAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), SocketFlags.None, cts.Token);
        await socket.SendAsync(Frame(type: 0x4, flags: 0, streamId: 0, []), SocketFlags.None, cts.Token);
        const int pairsPerWrite = 200, maxPairs = 20_000;
        var streamId = 1;
        var sent = 0;
        var watch = Stopwatch.StartNew();
        while (sent < maxPairs && !reader.IsCompleted && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            var batch = new List<byte>(pairsPerWrite * 30);
            for (var i = 0; i < pairsPerWrite; i++, streamId += 2)
            {
                batch.AddRange(Frame(type: 0x1, flags: 0x5, streamId, [0x82, 0x86, 0x84])); // :method GET, :scheme http, :path /
                batch.AddRange(Frame(type: 0x3, flags: 0, streamId, [0, 0, 0, 0x8]));      // RST_STREAM CANCEL
            }

            try
            {
                await socket.SendAsync(batch.ToArray(), SocketFlags.None, cts.Token);
            }
            catch (SocketException)
            {
                break; // the server has closed the connection
            }

            sent += pairsPerWrite;
        }

        var result = await reader.WaitAsync(TimeSpan.FromSeconds(10));
        var elapsed = watch.Elapsed;
        output.WriteLine($"sent {sent} HEADERS+RST_STREAM pairs; connection ended after {elapsed.TotalMilliseconds:F0} ms; server: {result}");
        // Kestrel's rapid-reset defences: past 2 × http2MaxStreamsPerConnection streams that are reset but not yet
        // cleaned up, each new stream is refused with ENHANCE_YOUR_CALM; after 100 of those in 5 s (or once the
        // connection's output queue of 4 × 2 × max streams fills up with such refusals) the connection is aborted
        // with GOAWAY ENHANCE_YOUR_CALM (11) or INTERNAL_ERROR (2). Measured here: GOAWAY 2 after ~300 streams.
        // The abort resets the socket (the server never read all we sent), and a reset can overtake the GOAWAY,
        // so the GOAWAY is checked when it arrives; the close itself always is (this client never closes).
        Assert.True(result.Closed, result.ToString());
        Assert.True(result.GoAwayError is null or 11 or 2, result.ToString());
        // The kernel takes the whole burst before the server reacts, so "sent" says little; what matters is that
        // the connection ended and only a few hundred of the streams were ever started.
        output.WriteLine($"requests that reached the backend: {_backend.Requests}");
        Assert.InRange(_backend.Requests, 0, 1000);

        // The gateway still serves well-behaved HTTP/2 clients.
        using var client = GatewayHost.CreateClient(HttpVersion.Version20);
        using var response = await client.GetAsync(gateway.Url, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId & int.MaxValue);
        payload.CopyTo(frame, 9);
        return frame;
    }

    private sealed record ServerReaction(int? GoAwayError, bool Closed, int RstStreams, int Headers)
    {
        public override string ToString() =>
            $"GOAWAY error {GoAwayError?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none (reset first)"}, closed {Closed}, {RstStreams} RST_STREAM ENHANCE_YOUR_CALM and {Headers} HEADERS frames received";
    }

    /// <summary>Reads server frames until the connection ends (or 20 s): the GOAWAY error code, if any, and frame counts.</summary>
    private static async Task<ServerReaction> ReadFramesAsync(Socket socket, CancellationToken token)
    {
        await Task.Yield();
        var buffer = new List<byte>();
        var chunk = new byte[64 * 1024];
        int? goAway = null;
        int rst = 0, headers = 0;
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(chunk, SocketFlags.None, token);
                if (n == 0)
                {
                    return new ServerReaction(goAway, true, rst, headers);
                }

                buffer.AddRange(chunk.AsSpan(0, n));
                while (buffer.Count >= 9)
                {
                    var length = (buffer[0] << 16) | (buffer[1] << 8) | buffer[2];
                    if (buffer.Count < 9 + length)
                    {
                        break;
                    }

                    switch (buffer[3])
                    {
                        case 0x1: headers++; break;
                        case 0x3 when length >= 4 && buffer[12] == 11: rst++; break; // RST_STREAM ENHANCE_YOUR_CALM
                        case 0x7 when length >= 8:
                            goAway = (buffer[13] << 24) | (buffer[14] << 16) | (buffer[15] << 8) | buffer[16];
                            break;
                    }

                    buffer.RemoveRange(0, 9 + length);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return new ServerReaction(goAway, ex is SocketException, rst, headers);
        }
    }
}
