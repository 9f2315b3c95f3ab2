using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// A raw TCP connection to the gateway from a chosen loopback source address (127.0.0.2 is "another client IP" on
/// Linux), for connection-level tests: is it accepted, is it closed, does a request on it get an answer.
/// </summary>
public sealed class RawConnection : IDisposable
{
    private readonly byte[] _buffer = new byte[16 * 1024];

    private RawConnection(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static async Task<RawConnection> OpenAsync(Uri server, string source = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(server.Host), server.Port), cts.Token);
            return new RawConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="OpenAsync"/>, but null when the server resets the connection before the connect call returns.</summary>
    public static async Task<RawConnection?> TryOpenAsync(Uri server, string source)
    {
        try
        {
            return await OpenAsync(server, source);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="wait"/> for the server to close the connection without sending anything. True
    /// when it did (FIN or reset), false when the connection was still open at the end.
    /// </summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            var n = await Socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return true;
            }

            throw new InvalidOperationException($"the server sent {n} bytes: {Encoding.Latin1.GetString(_buffer, 0, n)}");
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>Sends a GET and reads the whole response (Content-Length bodies); returns its status, 0 if the connection closed first.</summary>
    public async Task<int> GetAsync(string path = "/")
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await Socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"), SocketFlags.None, cts.Token);
            var received = new List<byte>();
            int headEnd;
            while ((headEnd = IndexOfHeadEnd(received)) < 0)
            {
                var n = await Socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return 0;
                }

                received.AddRange(_buffer.AsSpan(0, n));
            }

            var head = Encoding.Latin1.GetString(received.ToArray(), 0, headEnd);
            var length = 0;
            foreach (var line in head.Split("\r\n"))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(line.AsSpan(15).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            while (received.Count < headEnd + 4 + length)
            {
                var n = await Socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return 0;
                }

                received.AddRange(_buffer.AsSpan(0, n));
            }

            return RawHttp.StatusOf(head);
        }
        catch (SocketException)
        {
            return 0;
        }
    }

    private static int IndexOfHeadEnd(List<byte> bytes)
    {
        for (var i = 0; i + 3 < bytes.Count; i++)
        {
            if (bytes[i] == '\r' && bytes[i + 1] == '\n' && bytes[i + 2] == '\r' && bytes[i + 3] == '\n')
            {
                return i;
            }
        }

        return -1;
    }

    public void Dispose() => Socket.Dispose();
}
