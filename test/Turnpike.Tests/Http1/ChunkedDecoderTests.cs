using Turnpike.Http1;
using static Turnpike.Tests.Http1.Http1TestDriver;

namespace Turnpike.Tests.Http1;

public sealed class ChunkedDecoderTests
{
    [Theory]
    [InlineData("5\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world")]
    [InlineData("A\r\n0123456789\r\n0\r\n\r\n", "0123456789")]
    [InlineData("a\r\n0123456789\r\n0\r\n\r\n", "0123456789")]
    [InlineData("0005\r\nhello\r\n000\r\n\r\n", "hello")]
    [InlineData("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello")]
    [InlineData("5 ; name=\"quoted value\"\r\nhello\r\n0\r\n\r\n", "hello")]
    [InlineData("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n", "hello")]
    [InlineData("0\r\n\r\n", "")]
    public void Decodes_valid_bodies(string raw, string body)
    {
        var outcome = DecodeChunked(Bytes(raw + "NEXT REQUEST"));
        Assert.Equal(ChunkedStatus.Complete, outcome.Status);
        Assert.Equal(body, outcome.Body);
        Assert.Equal(raw.Length, outcome.Consumed);
    }

    [Theory]
    [InlineData("+5\r\nhello\r\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("-5\r\nhello\r\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("0x5\r\nhello\r\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData(" 5\r\nhello\r\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("g\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("5,5\r\nhello\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("10000000000000000\r\n", 400, nameof(Http1Error.InvalidChunkSize))]
    [InlineData("5;a\0b\r\nhello\r\n", 400, nameof(Http1Error.InvalidChunkExtension))]
    [InlineData("5\nhello\r\n", 400, nameof(Http1Error.BareLineFeed))]
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkTerminator))]
    [InlineData("5\r\nhello\rX", 400, nameof(Http1Error.InvalidChunkTerminator))]
    [InlineData("5\r\nhello\n0\r\n\r\n", 400, nameof(Http1Error.InvalidChunkTerminator))]
    [InlineData("0\r\nX: a\r\n b\r\n\r\n", 400, nameof(Http1Error.ObsoleteLineFolding))]
    [InlineData("0\r\nX : a\r\n\r\n", 400, nameof(Http1Error.WhitespaceBeforeColon))]
    [InlineData("0\r\n\n", 400, nameof(Http1Error.BareLineFeed))]
    public void Rejects_malformed_framing(string raw, int statusCode, string error)
    {
        var request = DecodeChunked(Bytes(raw));
        Assert.Equal(ChunkedStatus.Error, request.Status);
        Assert.Equal((statusCode, error), (request.StatusCode, request.Error.ToString()));
        var response = DecodeChunked(Bytes(raw), requestSide: false);
        Assert.Equal((ChunkedStatus.Error, 502, error), (response.Status, response.StatusCode, response.Error.ToString()));
    }

    [Fact]
    public void Extension_trailer_and_body_limits()
    {
        var limits = Http1Limits.Default with { MaxChunkExtensionLength = 16, MaxTrailerBytes = 32, MaxBodySize = 10 };
        Assert.Equal(ChunkedStatus.Complete, DecodeChunked(Bytes("5;" + new string('e', 14) + "\r\nhello\r\n0\r\n\r\n"), limits: limits).Status);
        var ext = DecodeChunked(Bytes("5;" + new string('e', 100) + "\r\nhello\r\n0\r\n\r\n"), limits: limits);
        Assert.Equal((400, Http1Error.ChunkExtensionTooLong), (ext.StatusCode, ext.Error));
        var endless = DecodeChunked(Bytes("5;" + new string('e', 100_000)), limits: limits);
        Assert.Equal((400, Http1Error.ChunkExtensionTooLong), (endless.StatusCode, endless.Error));

        var trailers = DecodeChunked(Bytes("0\r\nX-A: " + new string('t', 40) + "\r\n\r\n"), limits: limits);
        Assert.Equal((431, Http1Error.TrailersTooLarge), (trailers.StatusCode, trailers.Error));
        var trailersUpstream = DecodeChunked(Bytes("0\r\nX-A: " + new string('t', 40) + "\r\n\r\n"), requestSide: false, limits: limits);
        Assert.Equal((502, Http1Error.TrailersTooLarge), (trailersUpstream.StatusCode, trailersUpstream.Error));

        Assert.Equal(ChunkedStatus.Complete, DecodeChunked(Bytes("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), limits: limits).Status);
        var body = DecodeChunked(Bytes("5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"), limits: limits);
        Assert.Equal((413, Http1Error.BodyTooLarge), (body.StatusCode, body.Error));
        Assert.Equal("hello", body.Body);
    }

    [Fact]
    public void Truncated_body_needs_more_data_and_hands_out_what_arrived()
    {
        var outcome = DecodeChunked(Bytes("a\r\n01234"));
        Assert.Equal(ChunkedStatus.NeedMoreData, outcome.Status);
        Assert.Equal("01234", outcome.Body);
    }
}
