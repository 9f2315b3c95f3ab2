using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// An upstream on raw sockets (127.0.0.1, port 0) whose answers the test writes byte for byte: malformed heads,
/// 1xx, close-delimited bodies, connections closed while idle. It reads each request head (and a Content-Length or
/// chunked body) and records it exactly as it arrived.
/// </summary>
public sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<RawRequest, RawReply> _answer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentBag<Socket> _sockets = [];
    private int _connections;
    private int _requests;

    private RawUpstream(Func<RawRequest, RawReply> answer)
    {
        _answer = answer;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public static RawUpstream Start(Func<RawRequest, RawReply> answer) => new(answer);

    public string Address => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Requests read so far (over all connections).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Every request as received, in order.</summary>
    public ConcurrentQueue<RawRequest> Received { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            var id = Interlocked.Increment(ref _connections);
            _sockets.Add(socket);
            _ = ServeAsync(socket, id);
        }
    }

    private async Task ServeAsync(Socket socket, int connection)
    {
        var buffer = new List<byte>();
        var chunk = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int headEnd;
                while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
                {
                    var n = await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    buffer.AddRange(chunk.AsSpan(0, n));
                }

                var head = Encoding.Latin1.GetString(buffer.GetRange(0, headEnd + 4).ToArray());
                buffer.RemoveRange(0, headEnd + 4);
                var body = new List<byte>();
                var lines = head.Split("\r\n");
                var contentLength = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Select(p => long.Parse(p[1].Trim())).FirstOrDefault();
                var chunked = lines.Skip(1).Any(l => l.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && l.Contains("chunked", StringComparison.OrdinalIgnoreCase));
                if (chunked)
                {
                    int end;
                    while ((end = IndexOf(buffer, "0\r\n\r\n"u8)) < 0 || (end > 0 && buffer[end - 1] != '\n'))
                    {
                        var n = await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        buffer.AddRange(chunk.AsSpan(0, n));
                    }

                    body.AddRange(buffer.GetRange(0, end + 5));
                    buffer.RemoveRange(0, end + 5);
                }
                else
                {
                    while (buffer.Count < contentLength)
                    {
                        var n = await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        buffer.AddRange(chunk.AsSpan(0, n));
                    }

                    body.AddRange(buffer.GetRange(0, (int)contentLength));
                    buffer.RemoveRange(0, (int)contentLength);
                }

                var request = new RawRequest(head, body.ToArray(), connection);
                Interlocked.Increment(ref _requests);
                Received.Enqueue(request);
                var reply = _answer(request);
                if (reply.Delay > TimeSpan.Zero)
                {
                    await Task.Delay(reply.Delay, _stop.Token);
                }

                if (reply.Bytes.Length > 0)
                {
                    await socket.SendAsync(reply.Bytes, SocketFlags.None, _stop.Token);
                }

                if (reply.Close)
                {
                    if (reply.CloseAfter > TimeSpan.Zero)
                    {
                        await Task.Delay(reply.CloseAfter, _stop.Token);
                    }

                    socket.Shutdown(SocketShutdown.Both);
                    socket.Dispose();
                    return;
                }
            }
        }
        catch (Exception)
        {
            socket.Dispose();
        }
    }

    private static int IndexOf(List<byte> buffer, ReadOnlySpan<byte> value) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer).IndexOf(value);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        await _accepting;
        _stop.Dispose();
    }
}

/// <param name="Head">The request line and header section, CRLF-terminated, as received.</param>
/// <param name="Connection">1-based number of the connection it came on.</param>
public sealed record RawRequest(string Head, byte[] Body, int Connection)
{
    public string RequestLine => Head[..Head.IndexOf("\r\n", StringComparison.Ordinal)];

    public string Target => RequestLine.Split(' ')[1];
}

/// <param name="Close">Close the connection after the reply.</param>
/// <param name="CloseAfter">Wait this long (after the reply) before closing.</param>
public sealed record RawReply(byte[] Bytes, bool Close = false, TimeSpan Delay = default, TimeSpan CloseAfter = default)
{
    public static RawReply Text(string response, bool close = false) => new(Encoding.Latin1.GetBytes(response), close);

    public static RawReply Ok(string body = "ok") => Text($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}");
}
