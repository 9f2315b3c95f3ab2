using System.Text;
using Turnpike.Tools.Bench;

namespace Turnpike.Tests.Tools;

public class Http1ResponseParserTests
{
    /// <summary>Feeds <paramref name="response"/> in pieces of <paramref name="piece"/> bytes the way the connection does.</summary>
    private static (ParseStatus Status, int Code, bool Close, int Leftover) Feed(string response, int piece, bool isHead = false)
    {
        var bytes = Encoding.ASCII.GetBytes(response);
        var buffer = new byte[bytes.Length];
        var parser = default(Http1ResponseParser);
        parser.Reset(isHead);
        int start = 0, end = 0, offset = 0;
        while (offset < bytes.Length)
        {
            var n = Math.Min(piece, bytes.Length - offset);
            Array.Copy(bytes, offset, buffer, end, n);
            offset += n;
            end += n;
            var status = parser.Parse(buffer.AsSpan(start, end - start), out var consumed);
            start += consumed;
            if (status != ParseStatus.NeedMore)
            {
                return (status, parser.StatusCode, parser.CloseAfter, end - start + (bytes.Length - offset));
            }
        }

        return (ParseStatus.NeedMore, parser.StatusCode, parser.CloseAfter, end - start);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Content_length_body_completes_in_any_split(int piece)
    {
        var r = Feed("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: x\r\n\r\nhello world\n", piece);
        Assert.Equal((ParseStatus.Complete, 200, false, 0), r);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public void Chunked_body_with_extension_and_trailer_completes(int piece)
    {
        var r = Feed("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n", piece);
        Assert.Equal((ParseStatus.Complete, 201, false, 0), r);
    }

    [Fact]
    public void Incomplete_body_needs_more()
    {
        var r = Feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 4096);
        Assert.Equal(ParseStatus.NeedMore, r.Status);
    }

    [Fact]
    public void No_length_reads_until_close()
    {
        var bytes = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close");
        var parser = default(Http1ResponseParser);
        parser.Reset(false);
        Assert.Equal(ParseStatus.NeedMore, parser.Parse(bytes, out var consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.True(parser.ReadsUntilClose);
        Assert.True(parser.CloseAfter);
    }

    [Fact]
    public void Connection_close_and_http10_ask_to_close()
    {
        Assert.True(Feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 4096).Close);
        Assert.True(Feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 4096).Close);
        Assert.False(Feed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 4096).Close);
    }

    [Fact]
    public void Head_204_304_and_interim_answers_have_no_body()
    {
        Assert.Equal(ParseStatus.Complete, Feed("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 4096, isHead: true).Status);
        Assert.Equal((ParseStatus.Complete, 204, false, 0), Feed("HTTP/1.1 204 No Content\r\n\r\n", 4096));
        Assert.Equal((ParseStatus.Complete, 304, false, 0), Feed("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 4096));
        Assert.Equal((ParseStatus.Complete, 200, false, 0), Feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 5));
    }

    [Theory]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n\r\n")]
    [InlineData("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n")]
    public void Malformed_answers_are_read_errors(string response)
    {
        Assert.Equal(ParseStatus.Malformed, Feed(response, 4096).Status);
    }

    [Fact]
    public void Endless_chunk_size_line_is_malformed_not_a_hang()
    {
        var r = Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + new string('1', 2000), 4096);
        Assert.Equal(ParseStatus.Malformed, r.Status);
    }

    [Fact]
    public void Request_template_is_serialised_once_with_host_length_and_headers()
    {
        var body = "{\"a\":1}"u8.ToArray();
        var t = Http1RequestTemplate.Create(new Uri("http://127.0.0.1:8080/api/x?y=1"), "POST", [new("X-Test", "1"), new("Content-Length", "999")], body);
        var text = Encoding.ASCII.GetString(t.Bytes);
        Assert.StartsWith("POST /api/x?y=1 HTTP/1.1\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nHost: 127.0.0.1:8080\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nX-Test: 1\r\n", text, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Length: 7\r\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("999", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n{\"a\":1}", text, StringComparison.Ordinal);
    }
}
