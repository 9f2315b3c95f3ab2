using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>
/// Memory per connection of the raw listener's own socket I/O: a keep-alive connection between requests holds no
/// receive or send buffer (zero-byte receive, buffers rented only while bytes are there); a connection with a partial
/// request head holds its bytes until the head completes. Real sockets on 127.0.0.1.
/// </summary>
public sealed class RawListenerBufferTests
{
    private static readonly byte[] Answer = "ok"u8.ToArray();

    [Fact]
    public async Task IdleKeepAliveConnectionsHoldNoBuffers()
    {
        await using var listener = Start();
        const int Connections = 50;
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < Connections; i++)
            {
                var client = Connect(listener);
                clients.Add(client);
                await RoundTripAsync(client, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
            }

            // A partial head line: its bytes are held (the parser consumes whole lines only; the buffer exists while
            // unconsumed bytes wait for the rest).
            var partial = Connect(listener);
            clients.Add(partial);
            await partial.SendAsync(Encoding.ASCII.GetBytes("GET /b HTTP/1.1\r\nHost: x"));
            Assert.True(await EventuallyAsync(() => listener.HeldBufferBytes > 0), "a partial head holds a receive buffer");

            // The head completes: answered, and then no connection holds anything.
            await partial.SendAsync("\r\n\r\n"u8.ToArray());
            await ReceiveAnswerAsync(partial);
            Assert.Equal(Connections + 1, listener.ConnectionCount);
            Assert.True(await EventuallyAsync(() => listener.HeldBufferBytes == 0), $"{listener.HeldBufferBytes} B held by idle connections");

            // And they are still usable (keep-alive, pipelined).
            await RoundTripAsync(clients[0], "GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n", answers: 2);
            Assert.True(await EventuallyAsync(() => listener.HeldBufferBytes == 0), $"{listener.HeldBufferBytes} B held after pipelined requests");
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task SlowClientHoldsTheWriterInsteadOfBuffering()
    {
        // 64 MiB in 64 KiB writes to a client that reads nothing at first: the kernel's socket buffers take a few MiB,
        // then each write must wait for the client (backpressure), and the listener holds no more than one write.
        const long Total = 64L * 1024 * 1024;
        long written = 0;
        var chunk = new byte[64 * 1024];
        await using var listener = Start(async context =>
        {
            context.Response.Headers.ContentLength = Total;
            for (long sent = 0; sent < Total; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk);
                Interlocked.Add(ref written, chunk.Length);
            }
        });
        using var client = Connect(listener);
        await client.SendAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));

        // Wait until the app's writes stall (no progress for 300 ms; at most 20 s).
        long last = -1;
        for (int i = 0; i < 200 && Interlocked.Read(ref written) != last; i++)
        {
            last = Interlocked.Read(ref written);
            await Task.Delay(300);
        }

        long stalledAt = Interlocked.Read(ref written);
        long held = listener.HeldBufferBytes;
        Assert.True(stalledAt < Total / 2, $"the app wrote {stalledAt} B to a client that read nothing");
        Assert.True(held <= 256 * 1024, $"{held} B buffered by the listener for a client that reads nothing");

        // The client reads: everything arrives, the app finishes.
        var buffer = new byte[256 * 1024];
        long received = 0;
        long headLength = -1;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (headLength < 0 || received - headLength < Total)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "the server closed the connection");
            if (headLength < 0)
            {
                int end = buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8);
                Assert.True(end > 0, "the head arrives in the first read");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", Encoding.ASCII.GetString(buffer, 0, end));
                headLength = received + end + 4;
            }

            received += n;
        }

        Assert.Equal(Total, received - headLength);
        Assert.True(await EventuallyAsync(() => Interlocked.Read(ref written) == Total && listener.HeldBufferBytes == 0), "the app finished and the buffers went back");
    }

    private static RawListener Start(RequestDelegate? application = null)
    {
        var options = new RawListenerOptions
        {
            Name = "buffers",
            Application = application ?? (static context =>
            {
                context.Response.Headers.ContentLength = 2;
                return context.Response.Body.WriteAsync(Answer).AsTask();
            }),
            Services = new ServiceCollection().BuildServiceProvider(),
            Logger = NullLogger.Instance,
        };
        return RawListener.Start(new IPEndPoint(IPAddress.Loopback, 0), options);
    }

    private static Socket Connect(RawListener listener)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint);
        return client;
    }

    private static async Task RoundTripAsync(Socket client, string request, int answers = 1)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes(request));
        await ReceiveAnswerAsync(client, answers);
    }

    private static async Task ReceiveAnswerAsync(Socket client, int answers = 1)
    {
        var buffer = new byte[4096];
        int received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Count(buffer.AsSpan(0, received)) < answers)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "the server closed the connection");
            received += n;
        }

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", Encoding.ASCII.GetString(buffer, 0, received));
    }

    private static int Count(ReadOnlySpan<byte> data)
    {
        int count = 0;
        int at;
        while ((at = data.IndexOf("\r\n\r\nok"u8)) >= 0)
        {
            count++;
            data = data[(at + 6)..];
        }

        return count;
    }

    /// <summary>Buffers go back right after the send/parse that used them, possibly just after the client saw the answer.</summary>
    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (int i = 0; i < 1000; i++)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(10);
        }

        return condition();
    }
}
