using System.Text;

namespace Turnpike.Tools.Bench;

/// <summary>One request serialised once, before the run: the bytes each send writes as they are.</summary>
public sealed class Http1RequestTemplate
{
    private Http1RequestTemplate(byte[] bytes, bool expectsNoBody)
    {
        Bytes = bytes;
        IsHead = expectsNoBody;
    }

    public byte[] Bytes { get; }

    /// <summary>A HEAD request: the answer has headers only, whatever its Content-Length says.</summary>
    public bool IsHead { get; }

    public static Http1RequestTemplate Create(Uri url, string method, IReadOnlyList<KeyValuePair<string, string>> headers, byte[]? body)
    {
        var text = new StringBuilder(256);
        text.Append(method).Append(' ').Append(url.PathAndQuery).Append(" HTTP/1.1\r\n");
        var hasHost = false;
        var hasUserAgent = false;
        foreach (var (name, value) in headers)
        {
            // The framing headers are ours: a user's Content-Length or Transfer-Encoding would desynchronise the stream.
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            hasHost |= name.Equals("Host", StringComparison.OrdinalIgnoreCase);
            hasUserAgent |= name.Equals("User-Agent", StringComparison.OrdinalIgnoreCase);
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (!hasHost)
        {
            text.Append("Host: ").Append(url.IsDefaultPort ? url.IdnHost : $"{url.IdnHost}:{url.Port}").Append("\r\n");
        }

        if (!hasUserAgent)
        {
            text.Append("User-Agent: turnpike-bench\r\n");
        }

        if (body is { Length: > 0 } || method is "POST" or "PUT" or "PATCH")
        {
            text.Append("Content-Length: ").Append(body?.Length ?? 0).Append("\r\n");
        }

        text.Append("\r\n");
        var head = Encoding.ASCII.GetBytes(text.ToString());
        var bytes = new byte[head.Length + (body?.Length ?? 0)];
        head.CopyTo(bytes, 0);
        body?.CopyTo(bytes, head.Length);
        return new Http1RequestTemplate(bytes, method == "HEAD");
    }
}
