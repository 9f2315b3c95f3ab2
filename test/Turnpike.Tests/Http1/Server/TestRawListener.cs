using System.Net;
using System.Net.Sockets;
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
}
