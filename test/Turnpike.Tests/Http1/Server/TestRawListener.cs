using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>A raw listener on 127.0.0.1 port 0 running a test's app, and clients for it.</summary>
internal static class TestRawListener
{
    public static RawListener Start(string name, RequestDelegate application, IReadOnlyList<Type>? unversionedFeatures = null) =>
        RawListener.Start(new IPEndPoint(IPAddress.Loopback, 0), new RawListenerOptions
        {
            Name = name,
            Application = application,
            Services = new ServiceCollection().BuildServiceProvider(),
            Logger = new TestLogger(),
            UnversionedFeatures = unversionedFeatures ?? [],
        });

    public static async Task<Socket> ConnectAsync(RawListener listener)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndPoint);
        return client;
    }

    /// <summary>One keep-alive request; the answer has no body (Content-Length: 0), so it ends with its head.</summary>
    public static async Task ExchangeHeadAsync(Socket client, string target)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        var buffer = new byte[4096];
        var received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!buffer.AsSpan(0, received).EndsWith("\r\n\r\n"u8))
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "the listener closed the connection");
            received += n;
        }

        Assert.StartsWith("HTTP/1.1 200 ", Encoding.ASCII.GetString(buffer, 0, received));
    }

    /// <summary>One request with <c>Connection: close</c> on a new connection; the whole answer, read until the listener closes.</summary>
    public static async Task<byte[]> ExchangeToCloseAsync(RawListener listener, string target = "/")
    {
        using var client = await ConnectAsync(listener);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        while ((read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            answer.Write(buffer, 0, read);
        }

        return answer.ToArray();
    }
}
