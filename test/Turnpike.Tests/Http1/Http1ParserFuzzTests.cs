using System.Text;
using Turnpike.Http1;
using Xunit.Abstractions;
using static Turnpike.Tests.Http1.Http1TestDriver;

namespace Turnpike.Tests.Http1;

/// <summary>
/// Property tests with a seeded generator: (a) any split of a message gives the same verdict as one piece;
/// (b) mutated messages never throw, always terminate and are only ever rejected with an allowed status;
/// (c) oversized inputs get 414/431/413 (502 upstream). Set TURNPIKE_FUZZ_SEED to replay a failure.
/// </summary>
public sealed class Http1ParserFuzzTests(ITestOutputHelper output)
{
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("TURNPIKE_FUZZ_SEED"), out int s) ? s : 20261130;

    private static readonly string[] ValidRequests =
    [
        "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "GET /api/v1/items?id=42&x=%20 HTTP/1.1\r\nHost: api.example.com:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\nAccept-Encoding: gzip, br\r\nCookie: a=b; c=d\r\nConnection: keep-alive\r\nX-Request-Id: 0f8fad5b\r\n\r\n",
        "POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world",
        "POST /submit HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: gzip, chunked\r\nExpect: 100-continue\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 9\r\n\r\n",
        "\r\nOPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "GET http://example.com/x HTTP/1.0\r\nConnection: keep-alive\r\nX-Latin: caf\u00e9\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ];

    private static readonly (string Raw, Http1Method Method)[] ValidResponses =
    [
        ("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nHello world!", Http1Method.Get),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: nginx\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Http1Method.Get),
        ("HTTP/1.1 204 No Content\r\nDate: Mon, 30 Nov 2026 14:00:00 GMT\r\n\r\n", Http1Method.Delete),
        ("HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\nContent-Length: 99\r\n\r\n", Http1Method.Get),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", Http1Method.Head),
        ("HTTP/1.1 100 Continue\r\n\r\n", Http1Method.Post),
        ("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close", Http1Method.Get),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", Http1Method.Get),
    ];

    private static readonly int[] RequestRejections = [400, 413, 414, 431, 501, 505];

    [Fact]
    public void Every_split_of_a_valid_request_gives_the_one_piece_verdict()
    {
        var random = new Random(Seed);
        foreach (string raw in ValidRequests.Concat(Http1RequestCorpus.Cases.Where(c => c.Raw.Length < 2000).Select(c => c.Raw)))
        {
            byte[] bytes = Bytes(raw);
            var whole = Http1RequestCorpusTests.Verdict(bytes);
            string head = ParseRequest(bytes).Verdict;
            for (int i = 1; i < bytes.Length; i++)
            {
                Check(raw, $"split at {i}", whole, Http1RequestCorpusTests.Verdict(bytes, SplitAt(i), SplitAt(i)));
                Check(raw, $"head split at {i}", head, ParseRequest(bytes, SplitAt(i)).Verdict);
            }

            Check(raw, "byte by byte", whole, Http1RequestCorpusTests.Verdict(bytes, FixedChunks(1), FixedChunks(1)));
            for (int n = 0; n < 50; n++)
            {
                Check(raw, $"random plan {n}", whole, Http1RequestCorpusTests.Verdict(bytes, RandomChunks(random), RandomChunks(random)));
            }
        }
    }

    [Fact]
    public void Every_split_of_a_valid_response_gives_the_one_piece_verdict()
    {
        var random = new Random(Seed);
        foreach (var (raw, method) in ValidResponses)
        {
            byte[] bytes = Bytes(raw);
            var whole = ParseResponse(bytes, requestMethod: method);
            Assert.Equal(Http1ParseStatus.Complete, whole.Status);
            for (int i = 1; i < bytes.Length; i++)
            {
                Check(raw, $"split at {i}", whole.Verdict, ParseResponse(bytes, SplitAt(i), method).Verdict);
            }

            Check(raw, "byte by byte", whole.Verdict, ParseResponse(bytes, FixedChunks(1), method).Verdict);
            for (int n = 0; n < 50; n++)
            {
                Check(raw, $"random plan {n}", whole.Verdict, ParseResponse(bytes, RandomChunks(random), method).Verdict);
            }
        }
    }

    [Fact]
    public void Mutated_requests_never_throw_and_are_rejected_only_with_allowed_statuses()
    {
        var random = new Random(Seed);
        string[] corpus = [.. ValidRequests, .. Http1RequestCorpus.Cases.Where(c => c.Raw.Length < 2000).Select(c => c.Raw)];
        int rejected = 0;
        for (int iteration = 0; iteration < 15_000; iteration++)
        {
            byte[] bytes = Mutate(random, Bytes(corpus[random.Next(corpus.Length)]));
            try
            {
                var whole = Http1RequestCorpusTests.Verdict(bytes);
                if (whole.Status > 0)
                {
                    rejected++;
                    Assert.Contains(whole.Status, RequestRejections);
                }

                var split = Http1RequestCorpusTests.Verdict(bytes, RandomChunks(random), RandomChunks(random));
                Assert.Equal(whole, split);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"seed {Seed}, iteration {iteration}, input \"{Escape(bytes)}\": {e.Message}", e);
            }
        }

        output.WriteLine($"seed {Seed}: 15000 mutated requests, {rejected} rejected");
        Assert.InRange(rejected, 3_000, 15_000);
    }

    [Fact]
    public void Mutated_responses_and_chunked_bodies_never_throw_and_are_only_ever_502()
    {
        var random = new Random(Seed);
        int rejected = 0;
        for (int iteration = 0; iteration < 6_000; iteration++)
        {
            var (raw, method) = ValidResponses[random.Next(ValidResponses.Length)];
            byte[] bytes = Mutate(random, Bytes(raw));
            try
            {
                var whole = ParseResponse(bytes, requestMethod: method);
                var split = ParseResponse(bytes, RandomChunks(random), method);
                Assert.Equal(whole.Verdict, split.Verdict);
                if (whole.Status == Http1ParseStatus.Error)
                {
                    rejected++;
                    Assert.Equal(502, whole.StatusCode);
                }
                else if (whole.Status == Http1ParseStatus.Complete && whole.Response.Framing == Http1BodyFraming.Chunked)
                {
                    byte[] rest = bytes[(int)whole.Consumed..];
                    var body = DecodeChunked(rest, requestSide: false);
                    Assert.Equal(body.Verdict, DecodeChunked(rest, RandomChunks(random), requestSide: false).Verdict);
                    Assert.True(body.Status != ChunkedStatus.Error || body.StatusCode == 502, body.Verdict);
                }
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"seed {Seed}, iteration {iteration}, input \"{Escape(bytes)}\": {e.Message}", e);
            }
        }

        output.WriteLine($"seed {Seed}: 6000 mutated responses, {rejected} rejected");
        Assert.InRange(rejected, 1_000, 6_000);
    }

    [Fact]
    public void Oversized_requests_get_414_431_or_413()
    {
        var random = new Random(Seed);
        for (int n = 0; n < 6; n++)
        {
            string url = "/" + new string('u', random.Next(8_200, 100_000));
            Assert.Equal(414, ParseRequest(Bytes($"GET {url} HTTP/1.1\r\nHost: a\r\n\r\n"), RandomChunks(random)).StatusCode);

            string many = string.Concat(Enumerable.Range(0, random.Next(100, 1_000)).Select(i => $"X-{i}: v\r\n"));
            Assert.Equal(431, ParseRequest(Bytes($"GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n"), RandomChunks(random)).StatusCode);

            string big = new('v', random.Next(32_800, 200_000));
            Assert.Equal(431, ParseRequest(Bytes($"GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n"), RandomChunks(random)).StatusCode);

            long length = 30_000_001 + random.NextInt64(0, long.MaxValue - 30_000_001);
            Assert.Equal(413, ParseRequest(Bytes($"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n"), RandomChunks(random)).StatusCode);

            var limits = Http1Limits.Default with { MaxBodySize = 1_000 };
            string chunks = string.Concat(Enumerable.Range(0, 30).Select(_ => "40\r\n" + new string('b', 64) + "\r\n")) + "0\r\n\r\n";
            Assert.Equal(413, DecodeChunked(Bytes(chunks), RandomChunks(random), limits: limits).StatusCode);
            string hugeChunk = random.NextInt64(30_000_001, long.MaxValue).ToString("X", System.Globalization.CultureInfo.InvariantCulture) + "\r\n";
            Assert.Equal(413, DecodeChunked(Bytes(hugeChunk), RandomChunks(random)).StatusCode);

            Assert.Equal(502, ParseResponse(Bytes($"HTTP/1.1 200 OK\r\nServer: {big}\r\n\r\n"), RandomChunks(random)).StatusCode);
            Assert.Equal(502, ParseResponse(Bytes($"HTTP/1.1 200 OK\r\n{many}\r\n"), RandomChunks(random)).StatusCode);
        }
    }

    private static readonly byte[] Specials = [(byte)'\r', (byte)'\n', 0, (byte)' ', (byte)':', (byte)'\t', (byte)',', (byte)';', 0x7F, 0xFF];

    private static readonly string[] Insertions =
    [
        "\r\n", "\r\n\r\n", "\r\n ", "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "Host: x\r\n",
        "99999999999999999999999", "FFFFFFFFFFFFFFFFFFFF", "-1", "+4", "0x", ";ext", "HTTP/1.1", new string('a', 5_000),
    ];

    /// <summary>1–4 of: byte flip, special-byte insertion, deletion, truncation, a line duplicated, a nasty insertion.</summary>
    private static byte[] Mutate(Random random, byte[] input)
    {
        var bytes = new List<byte>(input);
        int count = random.Next(1, 5);
        for (int m = 0; m < count && bytes.Count > 0; m++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(7))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.Insert(at, Specials[random.Next(Specials.Length)]);
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                    int lineStart = bytes.LastIndexOf((byte)'\n', at) + 1;
                    int lineEnd = bytes.IndexOf((byte)'\n', at);
                    if (lineEnd > lineStart)
                    {
                        bytes.InsertRange(lineStart, bytes.GetRange(lineStart, lineEnd - lineStart + 1));
                    }

                    break;
                default:
                    bytes.InsertRange(at, Bytes(Insertions[random.Next(Insertions.Length)]));
                    break;
            }
        }

        return [.. bytes];
    }

    private static void Check<T>(string raw, string how, T expected, T actual)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            Assert.Fail($"seed {Seed}, {how} of \"{Escape(Bytes(raw))}\": expected {expected}, got {actual}");
        }
    }

    private static string Escape(byte[] bytes)
    {
        var text = new StringBuilder();
        foreach (byte b in bytes.AsSpan(0, Math.Min(bytes.Length, 600)))
        {
            text.Append(b is >= 0x20 and < 0x7F and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:X2}");
        }

        return bytes.Length > 600 ? text.Append($"… ({bytes.Length} bytes)").ToString() : text.ToString();
    }
}
