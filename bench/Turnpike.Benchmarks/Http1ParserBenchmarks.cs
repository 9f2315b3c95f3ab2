using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Turnpike.Http1;

namespace Turnpike.Benchmarks;

/// <summary>
/// The raw-socket path's HTTP/1.1 parsers (issue #8): one request head, one response head, one chunked body per
/// operation, parser reused as on a keep-alive connection. The point is the Allocated column (must be 0 B).
/// </summary>
[MemoryDiagnoser]
public class Http1ParserBenchmarks
{
    // A typical small GET: request line and 8 header fields, 283 bytes.
    private static readonly byte[] SmallGet = Encoding.ASCII.GetBytes(
        "GET /api/v1/items/42?fields=name,price HTTP/1.1\r\n" +
        "Host: api.example.com\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
        "Accept: application/json\r\n" +
        "Accept-Encoding: gzip, deflate, br\r\n" +
        "Accept-Language: en-US,en;q=0.9\r\n" +
        "Connection: keep-alive\r\n" +
        "X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\r\n" +
        "Cache-Control: no-cache\r\n\r\n");

    // What nginx answers in the e2e bench: 12-byte body.
    private static readonly byte[] SmallResponse = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 30 Nov 2026 14:00:00 GMT\r\n" +
        "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello world!");

    private static readonly byte[] ChunkedBody = Encoding.ASCII.GetBytes("5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");

    private readonly Http1RequestParser _requestParser = new(Http1Limits.Default);
    private readonly Http1ResponseParser _responseParser = new(Http1Limits.Default);
    private readonly ChunkedDecoder _chunked = new(Http1Limits.Default, requestSide: true);
    private ReadOnlySequence<byte> _get;
    private ReadOnlySequence<byte> _getSplit;
    private ReadOnlySequence<byte> _response;
    private ReadOnlySequence<byte> _chunkedBody;

    [GlobalSetup]
    public void Setup()
    {
        _get = new ReadOnlySequence<byte>(SmallGet);
        _getSplit = TwoSegments(SmallGet, 100); // the split falls inside the User-Agent line
        _response = new ReadOnlySequence<byte>(SmallResponse);
        _chunkedBody = new ReadOnlySequence<byte>(ChunkedBody);
        if (ParseGet() != 9 || ParseGetSplit() != 9 || ParseResponse() != 6 || DecodeChunked() != 12)
        {
            throw new InvalidOperationException("unexpected parse result");
        }
    }

    [Benchmark(Baseline = true, Description = "request head: GET + 8 headers, one segment")]
    public int ParseGet() => ParseRequest(_get);

    [Benchmark(Description = "request head: GET + 8 headers, a line split across two segments")]
    public int ParseGetSplit() => ParseRequest(_getSplit);

    [Benchmark(Description = "response head: 200 + 5 headers, Content-Length 12")]
    public int ParseResponse()
    {
        var handler = new CountingHandler();
        _responseParser.Reset(Http1Method.Get);
        var result = _responseParser.Parse(ref handler, _response, out _, out _);
        return result.Status == Http1ParseStatus.Complete && _responseParser.Response.ContentLength == 12 ? handler.Count : -1;
    }

    [Benchmark(Description = "chunked body: two chunks + last-chunk")]
    public long DecodeChunked()
    {
        _chunked.Reset();
        ReadOnlySequence<byte> rest = _chunkedBody;
        long total = 0;
        while (true)
        {
            var status = _chunked.Decode(rest, out SequencePosition consumed, out _, out ReadOnlySequence<byte> data);
            total += data.Length;
            rest = rest.Slice(consumed);
            if (status != ChunkedStatus.Data)
            {
                return status == ChunkedStatus.Complete ? total : -1;
            }
        }
    }

    private int ParseRequest(in ReadOnlySequence<byte> buffer)
    {
        var handler = new CountingHandler();
        _requestParser.Reset();
        var result = _requestParser.Parse(ref handler, buffer, out _, out _);
        return result.Status == Http1ParseStatus.Complete ? handler.Count : -1;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at).ToArray(), 0);
        var second = new Segment(bytes.AsMemory(at).ToArray(), at);
        first.SetNext(second);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private struct CountingHandler : IHttp1RequestHandler, IHttp1ResponseHandler
    {
        public int Count;

        public void OnRequestLine(Http1Method method, ReadOnlySpan<byte> methodName, ReadOnlySpan<byte> target, Http1TargetForm form, Http1Version version) => Count++;

        public void OnStatusLine(Http1Version version, int statusCode, ReadOnlySpan<byte> reasonPhrase) => Count++;

        public void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Count++;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
