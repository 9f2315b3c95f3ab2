using Turnpike.Http1;
using static Turnpike.Tests.Http1.Http1TestDriver;

namespace Turnpike.Tests.Http1;

public sealed class Http1ResponseParserTests
{
    private static ParseOutcome Parse(string raw, string method = "GET") =>
        ParseResponse(Bytes(raw), requestMethod: Enum.Parse<Http1Method>(method, ignoreCase: true));

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "GET", "ContentLength", 12, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", "Chunked", 0, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET", "Chunked", 0, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", "CloseDelimited", 0, false)]
    [InlineData("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "GET", "CloseDelimited", 0, false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n", "GET", "ContentLength", 12, false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\n", "GET", "ContentLength", 12, false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n", "GET", "ContentLength", 12, true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD", "None", 100, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", "None", 0, true)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", "GET", "None", 0, true)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n", "GET", "None", 40, true)]
    [InlineData("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", "ContentLength", 0, true)]
    [InlineData("HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n", "GET", "ContentLength", 0, true)]
    public void Body_framing_and_reuse(string raw, string method, string framing, long length, bool reusable)
    {
        var outcome = Parse(raw, method);
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.Equal(raw.Length, outcome.Consumed);
        Assert.Equal((framing, length, reusable), (outcome.Response.Framing.ToString(), outcome.Response.ContentLength, outcome.Response.Reusable));
        Assert.False(outcome.Response.IsInterim);
    }

    [Fact]
    public void Status_line_and_headers_reach_the_handler()
    {
        var outcome = Parse("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A:  b \r\n\r\n");
        Assert.Equal("[Http11 404 Not Found][ContentLength:Content-Length=3][None:X-A=b]", outcome.Events);
        Assert.Equal(404, outcome.Response.StatusCode);
    }

    [Fact]
    public void Interim_100_then_final_response_on_the_same_parser()
    {
        byte[] bytes = Bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        using var parser = new Http1ResponseParser(Http1Limits.Default);
        var handler = new RecordingResponseHandler(new System.Text.StringBuilder());
        var seq = new System.Buffers.ReadOnlySequence<byte>(bytes);
        parser.Reset(Http1Method.Post);
        Assert.Equal(Http1ParseStatus.Complete, parser.Parse(ref handler, seq, out var consumed, out _).Status);
        Assert.True(parser.Response.IsInterim);
        Assert.Equal(Http1BodyFraming.None, parser.Response.Framing);
        parser.Reset(Http1Method.Post);
        seq = seq.Slice(consumed);
        Assert.Equal(Http1ParseStatus.Complete, parser.Parse(ref handler, seq, out consumed, out _).Status);
        Assert.False(parser.Response.IsInterim);
        Assert.Equal(201, parser.Response.StatusCode);
        Assert.True(seq.Slice(consumed).IsEmpty);
    }

    [Fact]
    public void Switching_protocols_is_an_upgrade_and_not_reusable()
    {
        var outcome = Parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        Assert.True(outcome.Response.IsUpgrade);
        Assert.False(outcome.Response.IsInterim);
        Assert.False(outcome.Response.Reusable);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 Connection established\r\n\r\n", true)]
    [InlineData("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", false)]
    public void Connect_2xx_is_a_tunnel(string raw, bool tunnel)
    {
        var outcome = Parse(raw, "CONNECT");
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.Equal((tunnel, !tunnel), (outcome.Response.IsUpgrade, outcome.Response.Reusable));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", nameof(Http1Error.BareLineFeed))]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", nameof(Http1Error.BareCarriageReturn))]
    [InlineData("HTTP/2 200 OK\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/2.0 200 OK\r\n\r\n", nameof(Http1Error.InvalidVersion))]
    [InlineData("http/1.1 200 OK\r\n\r\n", nameof(Http1Error.InvalidVersion))]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/1.1 099 OK\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/1.1 2x0 OK\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/1.1  200 OK\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/1.1 200 O\u0001K\r\n\r\n", nameof(Http1Error.InvalidStatusLine))]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", nameof(Http1Error.ContentLengthAndTransferEncoding))]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", nameof(Http1Error.DuplicateContentLength))]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", nameof(Http1Error.InvalidContentLength))]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", nameof(Http1Error.ObsoleteLineFolding))]
    [InlineData("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", nameof(Http1Error.WhitespaceBeforeColon))]
    [InlineData("HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n", nameof(Http1Error.InvalidFieldValue))]
    public void Malformed_responses_are_502(string raw, string error)
    {
        var outcome = Parse(raw);
        Assert.Equal(Http1ParseStatus.Error, outcome.Status);
        Assert.Equal((502, error), (outcome.StatusCode, outcome.Error.ToString()));
    }

    [Fact]
    public void Oversized_response_heads_are_502()
    {
        var limits = Http1Limits.Default with { MaxHeaderCount = 2, MaxHeaderBytes = 64 };
        var count = ParseResponse(Bytes("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits: limits);
        Assert.Equal((502, Http1Error.TooManyHeaders), (count.StatusCode, count.Error));
        var bytes = ParseResponse(Bytes("HTTP/1.1 200 OK\r\nA: " + new string('x', 100) + "\r\n\r\n"), limits: limits);
        Assert.Equal((502, Http1Error.HeadersTooLarge), (bytes.StatusCode, bytes.Error));
        var status = ParseResponse(Bytes("HTTP/1.1 200 " + new string('x', 9000)));
        Assert.Equal((502, Http1Error.InvalidStatusLine), (status.StatusCode, status.Error));
    }
}
