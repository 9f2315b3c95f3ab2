using Turnpike.Http1;
using static Turnpike.Tests.Http1.Http1TestDriver;

namespace Turnpike.Tests.Http1;

public sealed class Http1RequestParserTests
{
    private const string H = "Host: example.com\r\n";

    private static ParseOutcome Parse(string raw, Http1Limits? limits = null) => ParseRequest(Bytes(raw), limits: limits);

    [Fact]
    public void Simple_get_is_complete_with_request_line_headers_and_keep_alive()
    {
        string raw = "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
        var outcome = Parse(raw + "NEXT");
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.Equal("[GET /a/b?c=d][Host:Host=example.com][None:Accept=*/*]", outcome.Events);
        Assert.Equal(raw.Length, outcome.Consumed);
        Assert.Equal(raw.Length, outcome.Request.HeadLength);
        Assert.Equal(Http1Method.Get, outcome.Request.Method);
        Assert.Equal(Http1Version.Http11, outcome.Request.Version);
        Assert.Equal(Http1TargetForm.Origin, outcome.Request.TargetForm);
        Assert.Equal(Http1BodyFraming.None, outcome.Request.Framing);
        Assert.True(outcome.Request.KeepAlive);
    }

    [Theory]
    [InlineData("GET / HTTP/1.0\r\n\r\n", false)]
    [InlineData("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true)]
    [InlineData("GET / HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n", false)]
    [InlineData("GET / HTTP/1.1\r\n" + H + "Connection: foo, Close\r\n\r\n", false)]
    [InlineData("GET / HTTP/1.1\r\n" + H + "\r\n", true)]
    public void Keep_alive_follows_version_and_connection(string raw, bool keepAlive)
    {
        var outcome = Parse(raw);
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.Equal(keepAlive, outcome.Request.KeepAlive);
    }

    [Theory]
    [InlineData("GET http://example.com/x HTTP/1.1\r\n" + H + "\r\n", nameof(Http1TargetForm.Absolute))]
    [InlineData("OPTIONS * HTTP/1.1\r\n" + H + "\r\n", nameof(Http1TargetForm.Asterisk))]
    [InlineData("CONNECT example.com:443 HTTP/1.1\r\n" + H + "\r\n", nameof(Http1TargetForm.Authority))]
    [InlineData("CONNECT [::1]:8080 HTTP/1.1\r\n" + H + "\r\n", nameof(Http1TargetForm.Authority))]
    [InlineData("PURGE /cache HTTP/1.1\r\n" + H + "\r\n", nameof(Http1TargetForm.Origin))]
    public void Request_target_forms(string raw, string form)
    {
        var outcome = Parse(raw);
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.Equal(form, outcome.Request.TargetForm.ToString());
    }

    [Theory]
    [InlineData("Content-Length: 5", nameof(Http1BodyFraming.ContentLength), 5)]
    [InlineData("Content-Length: 0", nameof(Http1BodyFraming.ContentLength), 0)]
    [InlineData("Content-Length: 007", nameof(Http1BodyFraming.ContentLength), 7)]
    [InlineData("Content-Length:12 ", nameof(Http1BodyFraming.ContentLength), 12)]
    [InlineData("Transfer-Encoding: chunked", nameof(Http1BodyFraming.Chunked), 0)]
    [InlineData("Transfer-Encoding: CHUNKED", nameof(Http1BodyFraming.Chunked), 0)]
    [InlineData("Transfer-Encoding: gzip, chunked", nameof(Http1BodyFraming.Chunked), 0)]
    [InlineData("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", nameof(Http1BodyFraming.Chunked), 0)]
    [InlineData("Transfer-Encoding: \t chunked", nameof(Http1BodyFraming.Chunked), 0)]
    [InlineData("X-Nothing: 1", nameof(Http1BodyFraming.None), 0)]
    public void Body_framing(string header, string framing, long length)
    {
        var outcome = Parse("POST /upload HTTP/1.1\r\n" + H + header + "\r\n\r\n");
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.Equal(framing, outcome.Request.Framing.ToString());
        Assert.Equal(length, outcome.Request.ContentLength);
    }

    [Fact]
    public void Expect_continue_upgrade_leading_empty_line_and_obs_text_are_accepted()
    {
        var outcome = Parse("\r\nPOST / HTTP/1.1\r\n" + H + "Expect: 100-Continue\r\nUpgrade: websocket\r\nX-Latin: caf\u00e9\r\nX-Empty:\r\nContent-Length: 1\r\n\r\n");
        Assert.Equal(Http1ParseStatus.Complete, outcome.Status);
        Assert.True(outcome.Request.ExpectContinue);
        Assert.True(outcome.Request.HasUpgrade);
        Assert.Contains("[None:X-Latin=caf\u00e9][None:X-Empty=]", outcome.Events);
    }

    [Fact]
    public void Expect_continue_is_ignored_on_http10() =>
        Assert.False(Parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").Request.ExpectContinue);

    [Fact]
    public void Pipelined_requests_parse_one_after_the_other()
    {
        byte[] bytes = Bytes("GET /1 HTTP/1.1\r\n" + H + "\r\nGET /2 HTTP/1.1\r\n" + H + "\r\n");
        using var parser = new Http1RequestParser(Http1Limits.Default);
        var log = new System.Text.StringBuilder();
        var handler = new RecordingRequestHandler(log);
        var seq = new System.Buffers.ReadOnlySequence<byte>(bytes);
        parser.Reset();
        Assert.Equal(Http1ParseStatus.Complete, parser.Parse(ref handler, seq, out var consumed, out var examined).Status);
        Assert.Equal(consumed, examined); // the next request is already there: a pipe must not wait for more bytes
        seq = seq.Slice(consumed);
        parser.Reset();
        Assert.Equal(Http1ParseStatus.Complete, parser.Parse(ref handler, seq, out consumed, out _).Status);
        Assert.True(seq.Slice(consumed).IsEmpty);
        Assert.Equal("[GET /1][Host:Host=example.com][GET /2][Host:Host=example.com]", log.ToString());
    }

    [Fact]
    public void Incomplete_head_needs_more_data_and_consumes_whole_lines_only()
    {
        var outcome = Parse("GET / HTTP/1.1\r\nHost: exa");
        Assert.Equal(Http1ParseStatus.NeedMoreData, outcome.Status);
        Assert.Equal("GET / HTTP/1.1\r\n".Length, outcome.Consumed);
        using var parser = new Http1RequestParser(Http1Limits.Default);
        var handler = new RecordingRequestHandler(new System.Text.StringBuilder());
        var seq = new System.Buffers.ReadOnlySequence<byte>(Bytes("GET / HTTP/1.1\r\nHost: exa"));
        parser.Reset();
        parser.Parse(ref handler, seq, out _, out var examined);
        Assert.Equal(seq.End, examined);
    }

    [Theory]
    // line endings
    [InlineData("GET / HTTP/1.1\n" + H + "\r\n", 400, nameof(Http1Error.BareLineFeed))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\n\r\n", 400, nameof(Http1Error.BareLineFeed))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "\n", 400, nameof(Http1Error.BareLineFeed))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\rb\r\n\r\n", 400, nameof(Http1Error.BareCarriageReturn))]
    [InlineData("GET /\r HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.BareCarriageReturn))]
    [InlineData("\r\n\r\nGET / HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestLine))]
    // request line
    [InlineData("GET  / HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestLine))]
    [InlineData(" GET / HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestLine))]
    [InlineData("GET /\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestLine))]
    [InlineData("GET / HTTP/1.1 \r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidVersion))]
    [InlineData("GET / http/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidVersion))]
    [InlineData("GET / HTTP/1.10\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidVersion))]
    [InlineData("GET / HTTP/2.0\r\n" + H + "\r\n", 505, nameof(Http1Error.UnsupportedVersion))]
    [InlineData("GET / HTTP/1.2\r\n" + H + "\r\n", 505, nameof(Http1Error.UnsupportedVersion))]
    [InlineData("GET / HTTP/0.9\r\n" + H + "\r\n", 505, nameof(Http1Error.UnsupportedVersion))]
    [InlineData("G(T / HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidMethod))]
    [InlineData("G\u00e9T / HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidMethod))]
    [InlineData("GET * HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("GET a/b HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("GET example.com:80 HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("CONNECT /x HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("CONNECT example.com HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("GET /a#frag HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("GET /caf\u00e9 HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("GET /\u007f HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    [InlineData("GET /\0 HTTP/1.1\r\n" + H + "\r\n", 400, nameof(Http1Error.InvalidRequestTarget))]
    // field syntax
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\r\n b\r\n\r\n", 400, nameof(Http1Error.ObsoleteLineFolding))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\r\n\tb\r\n\r\n", 400, nameof(Http1Error.ObsoleteLineFolding))]
    [InlineData("GET / HTTP/1.1\r\n Host: example.com\r\n\r\n", 400, nameof(Http1Error.ObsoleteLineFolding))]
    [InlineData("GET / HTTP/1.1\r\nHost : example.com\r\n\r\n", 400, nameof(Http1Error.WhitespaceBeforeColon))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X-A\t: b\r\n\r\n", 400, nameof(Http1Error.WhitespaceBeforeColon))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X A: b\r\n\r\n", 400, nameof(Http1Error.InvalidFieldName))]
    [InlineData("GET / HTTP/1.1\r\n" + H + ": b\r\n\r\n", 400, nameof(Http1Error.InvalidFieldName))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X\u00e9: b\r\n\r\n", 400, nameof(Http1Error.InvalidFieldName))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X-A b\r\n\r\n", 400, nameof(Http1Error.MissingColon))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\0b\r\n\r\n", 400, nameof(Http1Error.InvalidFieldValue))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\u0001b\r\n\r\n", 400, nameof(Http1Error.InvalidFieldValue))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "X: a\u007fb\r\n\r\n", 400, nameof(Http1Error.InvalidFieldValue))]
    // Host
    [InlineData("GET / HTTP/1.1\r\n\r\n", 400, nameof(Http1Error.MissingHost))]
    [InlineData("GET / HTTP/1.1\r\n" + H + "host: other\r\n\r\n", 400, nameof(Http1Error.MultipleHost))]
    [InlineData("GET / HTTP/1.0\r\n" + H + H + "\r\n", 400, nameof(Http1Error.MultipleHost))]
    [InlineData("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, nameof(Http1Error.InvalidHost))]
    [InlineData("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, nameof(Http1Error.InvalidHost))]
    [InlineData("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, nameof(Http1Error.InvalidHost))]
    // Content-Length
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: +4\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 4 4\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 4, 4\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 0x10\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 1e3\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: \r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 9223372036854775808\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 99999999999999999999\r\n\r\n", 400, nameof(Http1Error.InvalidContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 4\r\nContent-Length: 4\r\n\r\n", 400, nameof(Http1Error.DuplicateContentLength))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 4\r\nContent-Length: 5\r\n\r\n", 400, nameof(Http1Error.DuplicateContentLength))]
    // Transfer-Encoding
    [InlineData("POST / HTTP/1.1\r\n" + H + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nameof(Http1Error.ContentLengthAndTransferEncoding))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400, nameof(Http1Error.ContentLengthAndTransferEncoding))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, identity\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked;x=1\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: \"chunked\"\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\r\n\r\n", 400, nameof(Http1Error.TransferEncodingNotChunked))]
    [InlineData("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nameof(Http1Error.TransferEncodingInHttp10))]
    [InlineData("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: foo, chunked\r\n\r\n", 501, nameof(Http1Error.UnsupportedTransferCoding))]
    public void Rejects_with_exact_status(string raw, int statusCode, string error)
    {
        var outcome = Parse(raw);
        Assert.Equal(Http1ParseStatus.Error, outcome.Status);
        Assert.Equal((statusCode, error), (outcome.StatusCode, outcome.Error.ToString()));
    }

    private static readonly Http1Limits Small = Http1Limits.Default with { MaxRequestLineLength = 64, MaxHeaderCount = 4, MaxHeaderBytes = 128, MaxBodySize = 1000 };

    [Fact]
    public void Request_line_over_the_limit_is_414_even_before_its_end_arrives()
    {
        // 64 bytes of request line (CRLF not counted) is the most allowed.
        string fits = "GET /" + new string('a', 50) + " HTTP/1.1";
        Assert.Equal(64, fits.Length);
        Assert.Equal(Http1ParseStatus.Complete, Parse(fits + "\r\n" + H + "\r\n", Small).Status);
        var tooLong = Parse("GET /" + new string('a', 51) + " HTTP/1.1\r\n" + H + "\r\n", Small);
        Assert.Equal((414, Http1Error.RequestLineTooLong), (tooLong.StatusCode, tooLong.Error));
        var unfinished = Parse("GET /" + new string('a', 100), Small);
        Assert.Equal((414, Http1Error.RequestLineTooLong), (unfinished.StatusCode, unfinished.Error));
    }

    [Fact]
    public void Header_count_and_bytes_over_the_limit_are_431()
    {
        string four = "A: 1\r\nB: 2\r\nC: 3\r\n";
        Assert.Equal(Http1ParseStatus.Complete, Parse("GET / HTTP/1.1\r\n" + H + four + "\r\n", Small).Status);
        var count = Parse("GET / HTTP/1.1\r\n" + H + four + "D: 4\r\n\r\n", Small);
        Assert.Equal((431, Http1Error.TooManyHeaders), (count.StatusCode, count.Error));

        // 128 bytes of field lines (CRLF included) is the most allowed.
        string fits = "X: " + new string('v', 128 - H.Length - 5) + "\r\n";
        Assert.Equal(Http1ParseStatus.Complete, Parse("GET / HTTP/1.1\r\n" + H + fits + "\r\n", Small).Status);
        string over = "X: " + new string('v', 128 - H.Length - 4) + "\r\n";
        var bytes = Parse("GET / HTTP/1.1\r\n" + H + over + "\r\n", Small);
        Assert.Equal((431, Http1Error.HeadersTooLarge), (bytes.StatusCode, bytes.Error));
        var unfinished = Parse("GET / HTTP/1.1\r\n" + H + "X: " + new string('v', 500), Small);
        Assert.Equal((431, Http1Error.HeadersTooLarge), (unfinished.StatusCode, unfinished.Error));
    }

    [Fact]
    public void Content_length_over_the_body_limit_is_413()
    {
        Assert.Equal(Http1ParseStatus.Complete, Parse("POST / HTTP/1.1\r\n" + H + "Content-Length: 1000\r\n\r\n", Small).Status);
        var over = Parse("POST / HTTP/1.1\r\n" + H + "Content-Length: 1001\r\n\r\n", Small);
        Assert.Equal((413, Http1Error.BodyTooLarge), (over.StatusCode, over.Error));
        var huge = Parse("POST / HTTP/1.1\r\n" + H + "Content-Length: 9223372036854775807\r\n\r\n");
        Assert.Equal((413, Http1Error.BodyTooLarge), (huge.StatusCode, huge.Error));
    }
}
