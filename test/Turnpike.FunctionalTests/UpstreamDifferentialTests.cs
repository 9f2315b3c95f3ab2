using System.Net;
using System.Text;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>
/// The same corpus of requests through a cluster on the YARP engine and one on the raw HTTP/1.1 engine, both to one
/// raw-socket upstream that records the request head byte for byte: the upstream must receive the same request line,
/// the same header lines in the same order, and the same body, and the client the same status, reason, headers and
/// body. Routes without transforms (YARP's defaults: Host, X-Forwarded-*) and with request/response transforms.
/// On the raw engine the routes without transforms take its direct path (head written from the HttpContext), the
/// others the transformer path, so both are held to the YARP engine's bytes.
/// Accepted difference: chunk boundaries of a chunked request body (each engine frames what it reads from the
/// client), so chunked bodies are compared decoded.
/// </summary>
public sealed class UpstreamDifferentialTests
{
    private const string Config = """
        routes:
          plain-yarp:
            match: { pathPrefix: /p, headers: [{ name: x-engine, values: [yarp] }] }
            cluster: y
          plain-raw:
            match: { pathPrefix: /p, headers: [{ name: x-engine, values: [raw] }] }
            cluster: r
          transformed-yarp:
            match: { pathPrefix: /t, headers: [{ name: x-engine, values: [yarp] }] }
            cluster: y
            transforms:
              - pathRemovePrefix: /t
              - pathPrefix: /v2
              - requestHeader: x-set
                set: from-gateway
              - requestHeader: x-append
                append: added
              - requestHeaderRemove: x-secret
              - queryValueParameter: added
                append: "1"
              - responseHeader: x-served-by
                set: turnpike
                when: always
              - responseHeaderRemove: x-internal
          transformed-raw:
            match: { pathPrefix: /t, headers: [{ name: x-engine, values: [raw] }] }
            cluster: r
            transforms:
              - pathRemovePrefix: /t
              - pathPrefix: /v2
              - requestHeader: x-set
                set: from-gateway
              - requestHeader: x-append
                append: added
              - requestHeaderRemove: x-secret
              - queryValueParameter: added
                append: "1"
              - responseHeader: x-served-by
                set: turnpike
                when: always
              - responseHeaderRemove: x-internal
          host-yarp:
            match: { pathPrefix: /h, headers: [{ name: x-engine, values: [yarp] }] }
            cluster: y
            transforms:
              - requestHeaderOriginalHost: "true"
              - x-Forwarded: "Off"
          host-raw:
            match: { pathPrefix: /h, headers: [{ name: x-engine, values: [raw] }] }
            cluster: r
            transforms:
              - requestHeaderOriginalHost: "true"
              - x-Forwarded: "Off"
        clusters:
          y:
            destinations: { d: UPSTREAM }
            http: { engine: yarp }
          r:
            destinations: { d: UPSTREAM }
            http: { engine: raw }
        """;

    private static RawReply Answer(RawRequest request)
    {
        var head = request.Head;
        var isHead = request.RequestLine.StartsWith("HEAD ", StringComparison.Ordinal);
        if (request.Target.Contains("chunked", StringComparison.Ordinal))
        {
            return RawReply.Text("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nX-Internal: secret\r\n\r\n" + (isHead ? string.Empty : "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
        }

        if (request.Target.Contains("reason", StringComparison.Ordinal))
        {
            return RawReply.Text("HTTP/1.1 404 Nothing Here\r\nContent-Length: 4\r\n\r\n" + (isHead ? string.Empty : "gone"));
        }

        if (request.Target.Contains("nocontent", StringComparison.Ordinal))
        {
            return RawReply.Text("HTTP/1.1 204 No Content\r\nX-Up: 1\r\n\r\n");
        }

        var body = isHead ? string.Empty : "hello";
        return RawReply.Text($"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Up: 1\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nCache-Control: no-cache\r\nKeep-Alive: timeout=5\r\nX-Internal: secret\r\nContent-Length: 5\r\n\r\n{body}");
    }

    public static TheoryData<string> Corpus => new()
    {
        "GET /p/a?x=1&y=%20z",
        "GET /p/search?q=a+b&lang=en&empty=&flag",
        "GET /p/q?lower=%2f&unreserved=%41",
        "GET /p/with-content-type",
        "GET /p/",
        "GET /p/multi",
        "GET /p/%E2%82%AC/euro",
        "HEAD /p/head",
        "DELETE /p/delete",
        "OPTIONS /p/options",
        "PURGE /p/custom",
        "POST /p/form",
        "POST /p/empty",
        "PUT /p/chunked-request",
        "PATCH /p/json",
        "GET /p/chunked",
        "GET /p/reason",
        "GET /p/nocontent",
        "GET /t/path?q=1",
        "POST /t/post",
        "GET /t/chunked",
        "GET /h/original-host",
    };

    private static HttpRequestMessage Build(string spec, string engine, Uri gateway)
    {
        var parts = spec.Split(' ');
        var request = new HttpRequestMessage(new HttpMethod(parts[0]), new Uri(gateway, parts[1]));
        request.Headers.TryAddWithoutValidation("x-engine", engine);
        request.Headers.TryAddWithoutValidation("Accept", "text/plain, application/json;q=0.9");
        request.Headers.TryAddWithoutValidation("User-Agent", "diff-test/1.0 (corpus)");
        request.Headers.TryAddWithoutValidation("Cookie", "a=1; b=2");
        request.Headers.TryAddWithoutValidation("X-Multi", ["one", "two"]);
        request.Headers.TryAddWithoutValidation("x-secret", "s3cret");
        request.Headers.TryAddWithoutValidation("x-append", "client");
        request.Headers.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        request.Headers.TryAddWithoutValidation("Connection", "keep-alive, x-hop");
        request.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic Zm9vOmJhcg==");
        switch (parts[1])
        {
            case "/p/with-content-type":
                request.Content = new ByteArrayContent([]);
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/plain");
                request.Content.Headers.ContentLength = null;
                break;
            case "/p/form":
                request.Content = new FormUrlEncodedContent([new("a", "1"), new("b", "two words")]);
                break;
            case "/p/empty":
                request.Content = new ByteArrayContent([]);
                break;
            case "/p/chunked-request":
                request.Content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes(new string('c', 50_000))), 4096);
                request.Headers.TransferEncodingChunked = true;
                break;
            case "/p/json":
                request.Content = new StringContent("{\"a\":1}", Encoding.UTF8, "application/json");
                break;
            case "/t/post":
                request.Content = new StringContent("posted body");
                break;
        }

        return request;
    }

    private sealed record Seen(string RequestLine, string[] HeaderLines, string Body, int Status, string? Reason, string[] ResponseHeaders, string ResponseBody);

    /// <summary>No cookie container: the upstream's Set-Cookie must not come back on the next request.</summary>
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None });

    private static async Task<Seen> SendAsync(GatewayHost gw, RawUpstream upstream, string spec, string engine)
    {
        var before = upstream.Requests;
        using var request = Build(spec, engine, gw.Url);
        using var response = await Client.SendAsync(request);
        var responseBody = await response.Content.ReadAsStringAsync();
        Assert.Equal(before + 1, upstream.Requests);
        var received = upstream.Received.Last();
        var lines = received.Head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var headerLines = lines.Skip(1).Where(l => !l.StartsWith("x-engine:", StringComparison.OrdinalIgnoreCase)).ToArray();
        var chunked = headerLines.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase));
        var body = chunked ? Dechunk(received.Body) : Encoding.Latin1.GetString(received.Body);
        var responseHeaders = response.Headers.Concat(response.Content.Headers)
            .Where(h => h.Key is not ("Date" or "Server"))
            .Select(h => $"{h.Key}: {string.Join(" | ", h.Value)}")
            .Order(StringComparer.Ordinal)
            .ToArray();
        return new Seen(lines[0], headerLines, body, (int)response.StatusCode, response.ReasonPhrase, responseHeaders, responseBody);
    }

    private static string Dechunk(byte[] framed)
    {
        var text = Encoding.Latin1.GetString(framed);
        var result = new StringBuilder();
        var position = 0;
        while (true)
        {
            var lineEnd = text.IndexOf("\r\n", position, StringComparison.Ordinal);
            var size = Convert.ToInt32(text[position..lineEnd].Split(';')[0], 16);
            if (size == 0)
            {
                return result.ToString();
            }

            result.Append(text, lineEnd + 2, size);
            position = lineEnd + 2 + size + 2;
        }
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task RawEngineSendsAndAnswersLikeTheYarpEngine(string spec)
    {
        await using var upstream = RawUpstream.Start(Answer);
        await using var gw = await GatewayHost.StartAsync(Config.Replace("UPSTREAM", upstream.Address, StringComparison.Ordinal));
        var yarp = await SendAsync(gw, upstream, spec, "yarp");
        var raw = await SendAsync(gw, upstream, spec, "raw");
        Assert.Equal(yarp.RequestLine, raw.RequestLine);
        Assert.Equal(string.Join("\n", yarp.HeaderLines), string.Join("\n", raw.HeaderLines));
        Assert.Equal(yarp.Body, raw.Body);
        Assert.Equal(yarp.Status, raw.Status);
        Assert.Equal(yarp.Reason, raw.Reason);
        Assert.Equal(string.Join("\n", yarp.ResponseHeaders), string.Join("\n", raw.ResponseHeaders));
        Assert.Equal(yarp.ResponseBody, raw.ResponseBody);
    }
}
