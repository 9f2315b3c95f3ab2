using System.Net.Sockets;
using System.Text;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>Sends raw bytes over TCP, for requests no well-behaved client would produce.</summary>
public static class RawHttp
{
    /// <summary>Sends <paramref name="request"/> and returns the response head (status line and headers), or "" if the server closed without answering.</summary>
    public static async Task<string> SendAsync(Uri server, byte[] request, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cts.Token);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(request, cts.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before reading everything we send.
        }

        var buffer = new byte[16 * 1024];
        var received = new StringBuilder();
        try
        {
            while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                {
                    break;
                }

                received.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
        }
        catch (IOException)
        {
        }

        return received.ToString();
    }

    public static Task<string> SendAsync(Uri server, string request, TimeSpan? timeout = null) =>
        SendAsync(server, Encoding.Latin1.GetBytes(request), timeout);

    public static int StatusOf(string responseHead)
    {
        var parts = responseHead.Split(' ', 3);
        return parts.Length >= 2 && int.TryParse(parts[1], out var status) ? status : 0;
    }
}
