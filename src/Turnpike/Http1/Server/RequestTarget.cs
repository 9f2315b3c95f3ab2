using System.Buffers;
using System.Text;

namespace Turnpike.Http1.Server;

/// <summary>
/// The request path as Kestrel presents it in <c>HttpRequest.Path</c>: percent-decoded (except <c>%2F</c>, which
/// would change the path's segments), UTF-8, with dot segments removed (RFC 3986 §5.2.4). Slow path only: targets
/// without '%' and "/." are used as they are.
/// </summary>
internal static class RequestTarget
{
    /// <summary>The decoded path; null when the decoded bytes are not UTF-8 (the request is answered 400).</summary>
    public static string? DecodePath(ReadOnlySpan<byte> path)
    {
        byte[]? rented = null;
        Span<byte> buffer = path.Length <= 512 ? stackalloc byte[path.Length] : (rented = ArrayPool<byte>.Shared.Rent(path.Length));
        try
        {
            int length = 0;
            for (int i = 0; i < path.Length; i++)
            {
                byte b = path[i];
                if (b == (byte)'%' && i + 2 < path.Length && IsHex(path[i + 1]) && IsHex(path[i + 2]))
                {
                    int value = (Hex(path[i + 1]) << 4) | Hex(path[i + 2]);
                    if (value != '/')
                    {
                        buffer[length++] = (byte)value;
                        i += 2;
                        continue;
                    }
                }

                buffer[length++] = b;
            }

            length = RemoveDotSegments(buffer[..length]);
            var decoded = buffer[..length];
            if (System.Text.Unicode.Utf8.IsValid(decoded))
            {
                return Encoding.UTF8.GetString(decoded);
            }

            return null;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>RFC 3986 §5.2.4 on an absolute path, in place; returns the new length.</summary>
    internal static int RemoveDotSegments(Span<byte> path)
    {
        int read = 0;
        int write = 0;
        while (read < path.Length)
        {
            var rest = path[read..];
            if (rest.StartsWith("/./"u8))
            {
                read += 2;
            }
            else if (rest.SequenceEqual("/."u8))
            {
                path[write++] = (byte)'/';
                read += 2;
            }
            else if (rest.StartsWith("/../"u8) || rest.SequenceEqual("/.."u8))
            {
                // Drop the last output segment.
                int last = write == 0 ? 0 : path[..write].LastIndexOf((byte)'/');
                write = Math.Max(last, 0);
                if (rest.Length == 3)
                {
                    path[write++] = (byte)'/';
                    read += 3;
                }
                else
                {
                    read += 3;
                }
            }
            else
            {
                int next = rest.Length > 1 ? rest[1..].IndexOf((byte)'/') : -1;
                int segment = next < 0 ? rest.Length : next + 1;
                rest[..segment].CopyTo(path[write..]);
                write += segment;
                read += segment;
            }
        }

        if (write == 0 && path.Length > 0)
        {
            path[write++] = (byte)'/';
        }

        return write;
    }

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    private static int Hex(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
