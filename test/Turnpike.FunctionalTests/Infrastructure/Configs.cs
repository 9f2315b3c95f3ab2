using System.Net;
using System.Net.Sockets;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>Config snippets and ports shared by the functional tests.</summary>
public static class Configs
{
    /// <summary>
    /// One catch-all route "all" to cluster "c" with the given destinations ("name: address" lines, or a single
    /// address for destination "d"). <paramref name="clusterHttp"/> is YAML for <c>clusters.c.http</c>;
    /// <paramref name="top"/> is prepended as top-level sections; <paramref name="cluster"/> holds more keys of
    /// cluster c (one per line, flow style: <c>healthCheck: { passive: {} }</c>).
    /// </summary>
    public static string CatchAll(string destinations, string clusterHttp = "", string top = "", string cluster = "")
    {
        var lines = destinations.Contains(": ", StringComparison.Ordinal) ? destinations.Split('\n') : [$"d: {destinations}"];
        var destinationYaml = string.Join("\n", lines.Select(l => "      " + l.Trim()));
        var http = clusterHttp.Length == 0 ? string.Empty : "\n    http:\n" + string.Join("\n", clusterHttp.Split('\n').Select(l => "      " + l.Trim()));
        http += cluster.Length == 0 ? string.Empty : "\n" + string.Join("\n", cluster.Split('\n').Select(l => "    " + l.Trim()));
        return $$"""
            {{top}}
            routes:
              all:
                match: { path: "/{**rest}" }
                cluster: c
            clusters:
              c:
                destinations:
            {{destinationYaml}}{{http}}
            """;
    }

    /// <summary>
    /// A loopback port that refuses connections for as long as the returned socket is held: it is bound but not
    /// listening, so no other test's server can take the port meanwhile.
    /// </summary>
    public static (int Port, IDisposable Hold) RefusingPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (((IPEndPoint)socket.LocalEndPoint!).Port, socket);
    }

    /// <summary>A loopback port that nothing listens on (at the time of the call).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
