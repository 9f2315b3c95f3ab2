using System.Collections.Concurrent;
using System.Text;
using Turnpike.FunctionalTests.Infrastructure;
using Turnpike.Tests.Http1;

namespace Turnpike.FunctionalTests;

/// <summary>
/// One gateway, two listeners over the same route — Kestrel and the raw-socket listener — and the same bytes sent to
/// each: the client must get the same status, and the upstream must receive the same request (method, target,
/// headers except the connection-specific ones, body), or nothing from either.
/// </summary>
public sealed class ListenerDifferentialTests : IAsyncLifetime
{
    /// <summary>Differ by connection by nature (or are framing the forwarder re-does).</summary>
    private static readonly HashSet<string> ConnectionSpecific = ["connection", "keep-alive", "x-forwarded-for", "x-forwarded-port"];

    private static readonly string LongHeaders = string.Concat(Enumerable.Range(0, 40).Select(i => $"X-Field-{i}: value-{i}\r\n"));

    /// <summary>Valid requests of several shapes (the corpus adds the malformed ones).</summary>
    public static readonly (string Name, string Raw)[] Shapes =
    [
        ("get-root", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("get-query", "GET /a/b/c?x=1&y=%20z&x=2 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
        ("get-encoded-path", "GET /a%20b/%C3%A9t%C3%A9/c%2Fd HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("get-dot-segments", "GET /a/./b/../c HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("get-many-headers", "GET /h HTTP/1.1\r\nHost: example.com\r\n" + LongHeaders + "\r\n"),
        ("get-repeated-header", "GET /r HTTP/1.1\r\nHost: example.com\r\nX-Multi: a\r\nX-Multi: b\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"),
        ("get-empty-header", "GET /e HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\n\r\n"),
        ("head", "HEAD /head HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("delete", "DELETE /item/7 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("options", "OPTIONS /item HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("custom-method", "PURGE /cache HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        ("put-cl", "PUT /put HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"),
        ("post-chunked-multi", "POST /chunks HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n"),
        ("post-empty-cl", "POST /empty HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"),
        ("http10", "GET /old HTTP/1.0\r\n\r\n"),
        ("absolute-form", "GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"),
    ];

    /// <summary>
    /// Where the raw listener is deliberately stricter than Kestrel (the corpus's verdicts: framing ambiguities that
    /// are request-smuggling vectors elsewhere in a chain are refused, not repaired), or answers where Kestrel just
    /// closes. Name → (Kestrel's status, the raw listener's status); 0 = no answer. Checked exactly, so a change on
    /// either side shows up here.
    /// </summary>
    private static readonly Dictionary<string, (int Kestrel, int Raw)> AcceptedDifferences = new()
    {
        ["cl-te"] = (200, 400),                 // Kestrel drops Content-Length and reads chunked (RFC 9112 §6.3 allows either)
        ["te-cl"] = (200, 400),                 // same, other order
        ["te-chunked-twice"] = (200, 400),      // "chunked, chunked": Kestrel reads it as chunked
        ["te-identity-chunked"] = (200, 501),   // unknown coding before chunked: Kestrel ignores it
        ["te-http10"] = (200, 400),             // Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1: treat as faulty)
        ["cl-plus"] = (200, 400),               // "Content-Length: +5" is not 1*DIGIT
        ["bare-lf"] = (200, 400),               // Kestrel accepts LF line ends; the raw listener wants CRLF
        ["fragment-in-target"] = (200, 400),    // '#' is not allowed in a request-target
        ["chunk-extension-long"] = (200, 400),  // chunk extension above 1 KiB
        ["absolute-form-other-host"] = (400, 200), // RFC 9112 §3.2.2: the target's authority wins (raw forwards Host: other.example); Kestrel refuses the mismatch
        ["http-2-prior-knowledge-line"] = (0, 505), // Kestrel closes without an answer; raw answers 505
    };

    private TestBackend _backend = null!;
    private ConcurrentQueue<ReceivedRequest> _received = null!;
    private GatewayHost _gateway = null!;

    public static IEnumerable<object[]> ShapeNames => Shapes.Select(s => new object[] { s.Name });

    public static IEnumerable<object[]> CorpusNames => Http1RequestCorpus.Names;

    public async Task InitializeAsync()
    {
        (_backend, _received) = await RecordingBackend.StartAsync();
        _gateway = await GatewayHost.StartAsync(Configs.CatchAll(_backend.Address, top: """
            listeners:
              kestrel: { address: 127.0.0.1, port: 0, engine: kestrel }
              raw: { address: 127.0.0.1, port: 0, engine: raw }
            """));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(ShapeNames))]
    public Task ValidShapesAgree(string name) => CompareAsync(Shapes.Single(s => s.Name == name).Raw);

    [Theory]
    [MemberData(nameof(CorpusNames))]
    public Task CorpusAgrees(string name) => CompareAsync(Http1RequestCorpus.Find(name).Raw, name);

    private async Task CompareAsync(string raw, string? name = null)
    {
        var kestrel = await SendAsync(_gateway.Server.ListenerUrls["kestrel"], raw);
        var rawListener = await SendAsync(_gateway.Server.ListenerUrls["raw"], raw);
        if (name is not null && AcceptedDifferences.TryGetValue(name, out var expected))
        {
            Assert.Equal(expected, (kestrel.Status, rawListener.Status));
            Assert.Equal(rawListener.Status is >= 200 and < 300, rawListener.Upstream is not null);
            return;
        }

        Assert.Equal(kestrel.Status, rawListener.Status);
        Assert.Equal(kestrel.Upstream is null, rawListener.Upstream is null);
        if (kestrel.Upstream is { } k && rawListener.Upstream is { } r)
        {
            Assert.Equal(k.Method, r.Method);
            Assert.Equal(k.Target, r.Target);
            Assert.Equal(Describe(k.Headers), Describe(r.Headers));
            Assert.Equal(Encoding.Latin1.GetString(k.Body), Encoding.Latin1.GetString(r.Body));
        }
    }

    private static string Describe(IReadOnlyList<KeyValuePair<string, string>> headers) =>
        string.Join("\n", headers.Where(h => !ConnectionSpecific.Contains(h.Key)).Select(h => $"{h.Key}: {h.Value}").Order(StringComparer.Ordinal));

    private async Task<(int Status, ReceivedRequest? Upstream)> SendAsync(Uri listener, string raw)
    {
        _received.Clear();
        using var client = await WireClient.ConnectAsync(listener);
        await client.SendAsync(raw);
        var response = await client.ReadResponseAsync(headRequest: raw.StartsWith("HEAD", StringComparison.Ordinal));
        if (response?.Status == 100)
        {
            response = await client.ReadResponseAsync();
        }

        var status = response?.Status ?? 0;
        // The backend records before it answers, so a forwarded request is in the queue once the answer is here. A
        // lenient listener may also forward a second, smuggled request from the same bytes: give stragglers a moment,
        // so they are cleared before the next send instead of being taken for its forward.
        await Task.Delay(100);
        return (status, _received.TryDequeue(out var upstream) ? upstream : null);
    }
}
