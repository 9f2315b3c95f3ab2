using System.Net.Sockets;
using System.Text;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>One HTTP/1.1 response as read off the wire.</summary>
public sealed record WireResponse(int Status, string Head, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.Latin1.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}

/// <summary>
/// A raw TCP client that writes exact bytes and reads HTTP/1.1 responses one by one (Content-Length, chunked, or
/// to the close), for keep-alive, pipelining and framing tests.
/// </summary>
public sealed class WireClient : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private WireClient(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<WireClient> ConnectAsync(Uri server)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port);
        return new WireClient(client);
    }

    public Task SendAsync(string text) => _stream.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask();

    public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    /// <summary>Reads one response; null when the server closed before a status line. <paramref name="headRequest"/>: no body follows.</summary>
    public async Task<WireResponse?> ReadResponseAsync(bool headRequest = false, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var head = await ReadHeadAsync(cts.Token);
        if (head is null)
        {
            return null;
        }

        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0)
            {
                var name = line[..colon].Trim().ToLowerInvariant();
                var value = line[(colon + 1)..].Trim();
                headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
            }
        }

        byte[] body;
        if (headRequest || status is 204 or 304 || status < 200)
        {
            body = [];
        }
        else if (headers.TryGetValue("transfer-encoding", out var te) && te.EndsWith("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var collected = new MemoryStream();
            while (true)
            {
                var sizeLine = await ReadLineAsync(cts.Token) ?? throw new IOException("closed inside a chunked body");
                var size = Convert.ToInt32(sizeLine.Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    while (!string.IsNullOrEmpty(await ReadLineAsync(cts.Token)))
                    {
                    }

                    break;
                }

                collected.Write(await ReadExactlyAsync(size, cts.Token));
                await ReadLineAsync(cts.Token);
            }

            body = collected.ToArray();
        }
        else if (headers.TryGetValue("content-length", out var cl))
        {
            body = await ReadExactlyAsync(int.Parse(cl), cts.Token);
        }
        else
        {
            using var collected = new MemoryStream();
            collected.Write(_buffer, _start, _end - _start);
            _start = _end = 0;
            await _stream.CopyToAsync(collected, cts.Token);
            body = collected.ToArray();
        }

        return new WireResponse(status, head, headers, body);
    }

    /// <summary>True when the server closed the connection (reads 0) within <paramref name="wait"/>.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan wait)
    {
        if (_end > _start)
        {
            return false;
        }

        using var cts = new CancellationTokenSource(wait);
        try
        {
            return await _stream.ReadAsync(_buffer, cts.Token) == 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<string?> ReadHeadAsync(CancellationToken token)
    {
        var head = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(token);
            if (line is null)
            {
                return head.Length == 0 ? null : head.ToString();
            }

            if (line.Length == 0)
            {
                if (head.Length == 0)
                {
                    continue;
                }

                return head.ToString();
            }

            head.Append(head.Length == 0 ? string.Empty : "\r\n").Append(line);
        }
    }

    private async Task<string?> ReadLineAsync(CancellationToken token)
    {
        while (true)
        {
            var index = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (index >= 0)
            {
                var line = Encoding.Latin1.GetString(_buffer, _start, index - _start).TrimEnd('\r');
                _start = index + 1;
                return line;
            }

            if (!await FillAsync(token))
            {
                return null;
            }
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken token)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (_end == _start && !await FillAsync(token))
            {
                throw new IOException($"closed after {copied} of {count} body bytes");
            }

            var n = Math.Min(count - copied, _end - _start);
            Array.Copy(_buffer, _start, result, copied, n);
            _start += n;
            copied += n;
        }

        return result;
    }

    private async Task<bool> FillAsync(CancellationToken token)
    {
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        int n;
        try
        {
            n = await _stream.ReadAsync(_buffer.AsMemory(_end), token);
        }
        catch (IOException)
        {
            return false;
        }

        _end += n;
        return n > 0;
    }

    public void Dispose() => _client.Dispose();
}
