namespace Turnpike.Tests.Http1;

/// <summary>One request of the corpus and what the gateway must do with it.</summary>
/// <param name="Name">Stable identifier (used as the xunit case name).</param>
/// <param name="Raw">The exact bytes on the wire (Latin-1).</param>
/// <param name="Status">0 when the request must be accepted and forwarded; else the status the client gets.</param>
/// <param name="Framing">For an accepted request: None, ContentLength or Chunked.</param>
/// <param name="Body">For an accepted request: the body the upstream must receive (decoded for chunked).</param>
internal sealed record CorpusCase(string Name, string Raw, int Status, string Framing = "None", string Body = "");

/// <summary>
/// Tricky requests — request-smuggling classics and strictness edge cases — with the verdict of the raw-socket
/// HTTP/1.1 path. The unit tests run every case through <c>Http1RequestParser</c> (+ <c>ChunkedDecoder</c>); the
/// coming differential test of issue #8 reuses this same table to send each case to the Kestrel listener and to
/// the fast listener and compare what the upstream receives and what the client gets. Keep cases
/// self-contained: one request per case, bodies complete.
/// </summary>
internal static class Http1RequestCorpus
{
    private const string Post = "POST /submit HTTP/1.1\r\nHost: example.com\r\n";
    private const string Get = "GET / HTTP/1.1\r\nHost: example.com\r\n";
    private const string Chunked = "Transfer-Encoding: chunked\r\n";
    private const string SmuggledChunk = "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n";

    public static IReadOnlyList<CorpusCase> Cases { get; } =
    [
        // Baselines.
        new("get", Get + "\r\n", 0),
        new("post-content-length", Post + "Content-Length: 5\r\n\r\nhello", 0, "ContentLength", "hello"),
        new("post-chunked", Post + Chunked + "\r\n5\r\nhello\r\n0\r\n\r\n", 0, "Chunked", "hello"),
        new("get-with-body", Get + "Content-Length: 5\r\n\r\nhello", 0, "ContentLength", "hello"),
        new("expect-100-continue", Post + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", 0, "ContentLength", "hello"),

        // CL.TE / TE.CL: both framings present.
        new("cl-te", Post + "Content-Length: 6\r\n" + Chunked + "\r\n" + SmuggledChunk, 400),
        new("te-cl", Post + Chunked + "Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400),
        new("cl-te-te-obfuscated", Post + "Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n" + SmuggledChunk, 400),

        // TE.TE: obfuscated Transfer-Encoding.
        new("te-xchunked", Post + "Transfer-Encoding: xchunked\r\n\r\n" + SmuggledChunk, 400),
        new("te-chunk", Post + "Transfer-Encoding: chunk\r\n\r\n" + SmuggledChunk, 400),
        new("te-space-before-colon", Post + "Transfer-Encoding : chunked\r\n\r\n" + SmuggledChunk, 400),
        new("te-leading-space-value", Post + "Transfer-Encoding:  chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "Chunked", "hello"),
        new("te-tab-value", Post + "Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "Chunked", "hello"),
        new("te-vertical-tab", Post + "Transfer-Encoding: \u000bchunked\r\n\r\n" + SmuggledChunk, 400),
        new("te-chunked-identity", Post + "Transfer-Encoding: chunked, identity\r\n\r\n" + SmuggledChunk, 400),
        new("te-identity-chunked", Post + "Transfer-Encoding: identity, chunked\r\n\r\n" + SmuggledChunk, 501),
        new("te-gzip-chunked", Post + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "Chunked", "hello"),
        new("te-chunked-twice", Post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + SmuggledChunk, 400),
        new("te-chunked-then-x", Post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n" + SmuggledChunk, 400),
        new("te-obs-fold", Post + "Transfer-Encoding:\r\n chunked\r\n\r\n" + SmuggledChunk, 400),
        new("te-quoted", Post + "Transfer-Encoding: \"chunked\"\r\n\r\n" + SmuggledChunk, 400),
        new("te-underscore-name", Post + "Transfer_Encoding: chunked\r\n\r\n", 0),
        new("te-http10", "POST / HTTP/1.0\r\n" + Chunked + "\r\n" + SmuggledChunk, 400),
        new("te-uppercase", Post + "TRANSFER-ENCODING: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "Chunked", "hello"),

        // Content-Length shapes.
        new("cl-duplicate-same", Post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
        new("cl-duplicate-different", Post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        new("cl-list", Post + "Content-Length: 5, 5\r\n\r\nhello", 400),
        new("cl-leading-zeros", Post + "Content-Length: 0005\r\n\r\nhello", 0, "ContentLength", "hello"),
        new("cl-plus", Post + "Content-Length: +5\r\n\r\nhello", 400),
        new("cl-minus", Post + "Content-Length: -1\r\n\r\n", 400),
        new("cl-inner-space", Post + "Content-Length: 5 5\r\n\r\nhello", 400),
        new("cl-hex", Post + "Content-Length: 0x5\r\n\r\nhello", 400),
        new("cl-overflow", Post + "Content-Length: 18446744073709551621\r\n\r\nhello", 400),
        new("cl-space-before-colon", Post + "Content-Length : 5\r\n\r\nhello", 400),
        new("cl-surrounding-ows", Post + "Content-Length: \t5 \r\n\r\nhello", 0, "ContentLength", "hello"),
        new("cl-over-limit", Post + "Content-Length: 30000001\r\n\r\n", 413),

        // Line and field syntax.
        new("bare-lf", "GET / HTTP/1.1\nHost: example.com\n\n", 400),
        new("bare-cr-in-value", Get + "X-A: a\rb\r\n\r\n", 400),
        new("obs-fold", Get + "X-A: a\r\n b\r\n\r\n", 400),
        new("obs-fold-first-line", "GET / HTTP/1.1\r\n Host: example.com\r\n\r\n", 400),
        new("nul-in-value", Get + "X-A: a\0b\r\n\r\n", 400),
        new("nul-in-name", Get + "X-\0A: b\r\n\r\n", 400),
        new("tab-before-colon", Get + "X-A\t: b\r\n\r\n", 400),
        new("tab-separated-request-line", "GET\t/\tHTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
        new("missing-host", "GET / HTTP/1.1\r\n\r\n", 400),
        new("double-host", Get + "Host: evil.example\r\n\r\n", 400),
        new("absolute-form-other-host", "GET http://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 0),
        new("http-1-2", "GET / HTTP/1.2\r\nHost: example.com\r\n\r\n", 505),
        new("http-2-prior-knowledge-line", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        new("fragment-in-target", "GET /a#b HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
        new("long-url", "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: example.com\r\n\r\n", 414),
        new("many-headers", Get + string.Concat(Enumerable.Range(0, 101).Select(i => $"X-{i}: v\r\n")) + "\r\n", 431),
        new("huge-header", Get + "X-Big: " + new string('v', 33_000) + "\r\n\r\n", 431),

        // Chunked body framing.
        new("chunk-size-plus", Post + Chunked + "\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
        new("chunk-size-hex-prefix", Post + Chunked + "\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
        new("chunk-size-overflow", Post + Chunked + "\r\nFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", 400),
        new("chunk-size-leading-space", Post + Chunked + "\r\n 5\r\nhello\r\n0\r\n\r\n", 400),
        new("chunk-extension", Post + Chunked + "\r\n5;ext=1\r\nhello\r\n0\r\n\r\n", 0, "Chunked", "hello"),
        new("chunk-extension-long", Post + Chunked + "\r\n5;" + new string('e', 2000) + "\r\nhello\r\n0\r\n\r\n", 400),
        new("chunk-data-bare-lf", Post + Chunked + "\r\n5\r\nhello\n0\r\n\r\n", 400),
        new("chunk-data-too-long", Post + Chunked + "\r\n3\r\nhello\r\n0\r\n\r\n", 400),
        new("chunk-trailer", Post + Chunked + "\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", 0, "Chunked", "hello"),
        new("chunk-trailer-obs-fold", Post + Chunked + "\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n 2\r\n\r\n", 400),
    ];

    public static IEnumerable<object[]> Names => Cases.Select(c => new object[] { c.Name });

    public static CorpusCase Find(string name) => Cases.Single(c => c.Name == name);
}
