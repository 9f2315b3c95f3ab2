using System.Buffers;
using System.Collections.Frozen;
using System.Net.Http;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Turnpike.Http1.Client;

/// <summary>
/// The raw engine's path for routes without <c>transforms</c>: what YARP's default transformer (headers copied minus
/// hop-by-hop, Host from the destination, X-Forwarded-For/Host/Proto set) and SocketsHttpHandler's serialisation
/// produce, written straight from the <see cref="HttpContext"/> into the connection's buffer — no
/// <see cref="HttpRequestMessage"/>, no <see cref="Uri"/> — and the response header fields copied straight to
/// <see cref="HttpResponse.Headers"/> as YARP's transformer copies them. Requests it cannot reproduce byte for byte
/// (path characters YARP re-escapes, a query with escapes the Uri could rewrite, a non-ASCII host, a path base,
/// content headers without a body, Content-Length with Transfer-Encoding) take the transformer path instead.
/// <c>UpstreamDifferentialTests</c> compares both paths and the YARP engine byte for byte.
/// </summary>
internal static class Http1DirectPath
{
    // RFC 3986 pchar without '%' (YARP's RequestUtilities.EncodePath leaves exactly these unescaped).
    private static readonly SearchValues<char> PathChars =
        SearchValues.Create("!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");

    private static readonly SearchValues<char> Unreserved =
        SearchValues.Create("-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~");

    // What YARP's RequestUtilities skips in both directions (hop-by-hop and proxy-only fields).
    private static readonly string[] Excluded =
    [
        HeaderNames.Connection, HeaderNames.TransferEncoding, HeaderNames.KeepAlive, HeaderNames.Upgrade, HeaderNames.ProxyConnection,
        HeaderNames.ProxyAuthenticate, "Proxy-Authentication-Info", HeaderNames.ProxyAuthorization, "Proxy-Features", "Proxy-Instruction",
        "Security-Scheme", "ALPN", "Close", "HTTP2-Settings", HeaderNames.UpgradeInsecureRequests, HeaderNames.TE, HeaderNames.AltSvc,
    ];

    // HttpHeaderType.Content headers: SocketsHttpHandler writes them after the request's own headers.
    private static readonly string[] ContentHeaders =
    [
        HeaderNames.Allow, HeaderNames.ContentDisposition, HeaderNames.ContentEncoding, HeaderNames.ContentLanguage, HeaderNames.ContentLength,
        HeaderNames.ContentLocation, HeaderNames.ContentMD5, HeaderNames.ContentRange, HeaderNames.ContentType, HeaderNames.Expires, HeaderNames.LastModified,
    ];

    // Replaced by the default X-Forwarded transforms (action Set), or by the destination (Host).
    private static readonly string[] Replaced =
    [
        HeaderNames.Host, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix",
    ];

    private const byte IsExcluded = 1;
    private const byte IsContent = 2;
    private const byte IsReplaced = 4;

    /// <summary>The three lists above in one map (the sets are disjoint): one lookup per header field instead of three.</summary>
    private static readonly FrozenDictionary<string, byte> Classes = BuildClasses();

    private static FrozenDictionary<string, byte> BuildClasses()
    {
        var classes = new Dictionary<string, byte>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in Excluded)
        {
            classes.Add(name, IsExcluded);
        }

        foreach (var name in ContentHeaders)
        {
            classes.Add(name, IsContent);
        }

        foreach (var name in Replaced)
        {
            classes.Add(name, IsReplaced);
        }

        return classes.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>0 for a field forwarded as is, else one of <see cref="IsExcluded"/>, <see cref="IsContent"/>, <see cref="IsReplaced"/>.</summary>
    private static byte ClassOf(string name) => Classes.TryGetValue(name, out var value) ? value : (byte)0;

    private static readonly Func<string, byte> Classify = ClassOf;

    /// <summary>Whether this request's head can be written directly with the same bytes as the transformer path.</summary>
    public static bool CanWrite(HttpContext context, bool hasBody)
    {
        var request = context.Request;
        if (request.PathBase.HasValue || !IsPlainPath(request.Path.Value) || !IsPlainQuery(request.QueryString.Value)
            || request.Host.Value is not { } host || !Ascii.IsValid(host) || host.AsSpan().IndexOfAny("\r\n") >= 0)
        {
            return false;
        }

        var headers = request.Headers;
        if (!HttpProtocol.IsHttp11(request.Protocol) && !HttpProtocol.IsHttp10(request.Protocol) && headers.ContainsKey(HeaderNames.TE))
        {
            // YARP forwards "TE: trailers" from HTTP/2 and HTTP/3 clients.
            return false;
        }

        if (hasBody)
        {
            // YARP drops a Content-Length sent with Transfer-Encoding: leave that case to the transformer path.
            return !(headers.ContainsKey(HeaderNames.TransferEncoding) && headers.ContainsKey(HeaderNames.ContentLength));
        }

        // Content headers without a body make YARP attach an empty content: transformer path.
        if (headers is HeaderDictionary own && own.Count <= 8)
        {
            // The raw listener's few fields: one set lookup per field beats eleven dictionary lookups (struct enumerator).
            foreach (var header in own)
            {
                if (ClassOf(header.Key) == IsContent)
                {
                    return false;
                }
            }

            return true;
        }

        return !(headers.ContainsKey(HeaderNames.ContentType) || headers.ContainsKey(HeaderNames.ContentLength) || headers.ContainsKey(HeaderNames.ContentEncoding)
            || headers.ContainsKey(HeaderNames.ContentLanguage) || headers.ContainsKey(HeaderNames.ContentLocation) || headers.ContainsKey(HeaderNames.ContentDisposition)
            || headers.ContainsKey(HeaderNames.ContentRange) || headers.ContainsKey(HeaderNames.ContentMD5) || headers.ContainsKey(HeaderNames.Allow)
            || headers.ContainsKey(HeaderNames.Expires) || headers.ContainsKey(HeaderNames.LastModified));
    }

    private static bool IsPlainPath(string? path) => path is null || path.AsSpan().IndexOfAnyExcept(PathChars) < 0;

    /// <summary>Printable ASCII without '#', and '%' only before two hex digits that do not encode an unreserved character (which Uri would decode).</summary>
    private static bool IsPlainQuery(string? query)
    {
        if (query is null)
        {
            return true;
        }

        for (var i = 0; i < query.Length; i++)
        {
            var c = query[i];
            if (c is < '!' or > '~' or '#')
            {
                return false;
            }

            if (c == '%')
            {
                // Upper-case hex only, and never an unreserved character (Uri would decode either).
                if (i + 2 >= query.Length || HexValue(query[i + 1]) < 0 || HexValue(query[i + 2]) < 0
                    || Unreserved.Contains((char)((HexValue(query[i + 1]) * 16) + HexValue(query[i + 2]))))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static int HexValue(char c) => c is >= '0' and <= '9' ? c - '0' : c is >= 'A' and <= 'F' ? c - 'A' + 10 : -1;

    /// <summary>Request line and header section; false when something cannot be sent (non-ASCII, CR/LF).</summary>
    public static bool TryWriteHead(Http1UpstreamConnection connection, HttpContext context, HttpMethod method, bool hasBody)
    {
        var request = context.Request;
        connection.BeginWrite();
        var ok = connection.WriteAscii(method.Method);
        connection.Write(" "u8);
        ok &= request.Path.Value is { Length: > 0 } path ? connection.WriteAscii(path) : connection.WriteAscii("/");
        if (request.QueryString.Value is { Length: > 1 } query)
        {
            ok &= connection.WriteAscii(query);
        }

        connection.Write(" HTTP/1.1\r\nHost: "u8);
        connection.Write(connection.Pool.HostHeader);
        connection.Write("\r\n"u8);
        var headers = request.Headers;
        if (headers is HeaderDictionary own)
        {
            // The raw listener's headers: the struct enumerator, nothing boxed per request.
            foreach (var header in own)
            {
                ok &= WriteForwarded(connection, header.Key, header.Value);
            }
        }
        else
        {
            foreach (var header in headers)
            {
                ok &= WriteForwarded(connection, header.Key, header.Value);
            }
        }

        // The default X-Forwarded transforms, in YARP's order, each replacing what the client sent.
        if (context.Connection.RemoteIpAddress is { } remote)
        {
            connection.Write("X-Forwarded-For: "u8);
            if (context.Features is IRemoteAddressText { RemoteAddressText: { } text })
            {
                ok &= connection.WriteAscii(text); // the raw listener's connection formatted it once
            }
            else
            {
                Span<char> ip = stackalloc char[64];
                ok &= remote.TryFormat(ip, out var written) && connection.WriteAscii(ip[..written]);
            }

            connection.Write("\r\n"u8);
        }

        connection.Write("X-Forwarded-Host: "u8);
        ok &= connection.WriteAscii(request.Host.Value!);
        connection.Write("\r\nX-Forwarded-Proto: "u8);
        ok &= connection.WriteAscii(request.Scheme);
        connection.Write("\r\n"u8);
        if (hasBody)
        {
            if (request.ContentLength is null)
            {
                connection.Write("Transfer-Encoding: chunked\r\n"u8);
            }

            foreach (var header in headers)
            {
                if (ClassOf(header.Key) == IsContent)
                {
                    ok &= WriteField(connection, header.Key, header.Value);
                }
            }
        }
        else if (!(ReferenceEquals(method, HttpMethod.Get) || ReferenceEquals(method, HttpMethod.Head) || ReferenceEquals(method, HttpMethod.Connect)
            || ReferenceEquals(method, HttpMethod.Options) || ReferenceEquals(method, HttpMethod.Delete)))
        {
            connection.Write("Content-Length: 0\r\n"u8);
        }

        connection.Write("\r\n"u8);
        return ok;
    }

    /// <summary>A client header as it is forwarded (true when skipped: excluded, replaced or a content header written later).</summary>
    private static bool WriteForwarded(Http1UpstreamConnection connection, string name, StringValues value) =>
        name.StartsWith(':') || ClassOf(name) != 0 || WriteField(connection, name, value);

    private static bool WriteField(Http1UpstreamConnection connection, string name, StringValues values)
    {
        var ok = connection.WriteAscii(name);
        connection.Write(": "u8);
        // YARP joins a split Cookie with "; "; SocketsHttpHandler joins User-Agent with a space, the rest with ", ".
        var separator = name.Equals(HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase) ? "; "u8
            : name.Equals(HeaderNames.UserAgent, StringComparison.OrdinalIgnoreCase) ? " "u8 : ", "u8;
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                connection.Write(separator);
            }

            ok &= connection.WriteAscii(values[i] ?? string.Empty);
        }

        connection.Write("\r\n"u8);
        return ok;
    }

    /// <summary>
    /// The upstream's header fields onto the client's response as YARP's transformer copies them: hop-by-hop fields
    /// skipped, the response's own fields before its content fields, repeated names appended, and a
    /// <c>Content-Length: 0</c> dropped from a 204/205.
    /// </summary>
    public static void CopyResponseHeaders(Http1UpstreamConnection connection, HttpResponse response)
    {
        var count = connection.HeaderCount;
        // Each field classified once (the two passes read it back); a response that starts without fields (nearly
        // always) needs no lookup of what it already holds unless the upstream repeated a name.
        Span<byte> classes = count <= 64 ? stackalloc byte[count] : new byte[count];
        for (var i = 0; i < count; i++)
        {
            var kind = connection.HeaderClass(i, Classify);
            classes[i] = kind == IsExcluded ? FieldSkipped : kind == IsContent ? FieldContent : FieldOwn;
        }

        // The raw listener takes the fields as they are when nothing has touched its response's headers and no name
        // repeats (then each field is one header, in the order below); a 204/205 may need its Content-Length dropped.
        var repeats = RepeatsAnyName(connection, classes);
        if (!repeats && response.HttpContext.Features is IDeferredResponseHeaders deferred && response.StatusCode is not (204 or 205)
            && deferred.BeginDeferred())
        {
            for (var pass = FieldOwn; pass <= FieldContent; pass++)
            {
                for (var i = 0; i < count; i++)
                {
                    if (classes[i] == pass)
                    {
                        deferred.Defer(connection.HeaderNameAt(i), connection.HeaderValue(i), connection.HeaderLine(i));
                    }
                }
            }

            return;
        }

        var headers = response.Headers;
        var startedEmpty = headers.Count == 0;
        for (var pass = FieldOwn; pass <= FieldContent; pass++)
        {
            for (var i = 0; i < count; i++)
            {
                if (classes[i] != pass)
                {
                    continue;
                }

                var name = connection.HeaderNameAt(i);
                var existing = startedEmpty && !repeats ? default : headers[name];
                if (existing.Count > 0 && name.Equals(HeaderNames.StrictTransportSecurity, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                headers[name] = existing.Count == 0 ? new StringValues(connection.HeaderValue(i)) : StringValues.Concat(existing, connection.HeaderValue(i));
            }
        }

        if (response.StatusCode is 204 or 205 && headers.ContentLength == 0)
        {
            headers.Remove(HeaderNames.ContentLength);
        }
    }

    private const byte FieldSkipped = 0;
    private const byte FieldOwn = 1;
    private const byte FieldContent = 2;

    /// <summary>Whether two copied fields have the same name (ignoring case).</summary>
    private static bool RepeatsAnyName(Http1UpstreamConnection connection, ReadOnlySpan<byte> classes)
    {
        for (var i = 1; i < classes.Length; i++)
        {
            if (classes[i] == FieldSkipped)
            {
                continue;
            }

            var name = connection.HeaderNameAt(i);
            for (var j = 0; j < i; j++)
            {
                if (classes[j] != FieldSkipped && connection.HeaderNameAt(j) is { } other && other.Length == name.Length
                    && other.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
