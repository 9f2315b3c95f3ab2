using System.Buffers;
using Turnpike.Http1;

namespace Turnpike.Tests.Http1;

/// <summary>
/// Steady state allocates nothing: counted with <see cref="ThreadAllocations"/> (bytes, not
/// time). BenchmarkDotNet shows the same in bench/results/micro-20261130-http1.md.
/// </summary>
public sealed class Http1AllocationTests
{
    private static readonly byte[] Get = Http1TestDriver.Bytes(
        "GET /api/v1/items/42?fields=name HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: test\r\nAccept: */*\r\n" +
        "Accept-Encoding: gzip\r\nConnection: keep-alive\r\nX-Request-Id: 0f8fad5b\r\nCache-Control: no-cache\r\nContent-Length: 0\r\n\r\n");

    private static readonly byte[] Response = Http1TestDriver.Bytes(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");

    [Fact]
    public void Parsing_heads_and_chunked_bodies_allocates_nothing_in_steady_state()
    {
        using var requests = new Http1RequestParser(Http1Limits.Default);
        using var responses = new Http1ResponseParser(Http1Limits.Default);
        using var chunked = new ChunkedDecoder(Http1Limits.Default, requestSide: false);
        var whole = new ReadOnlySequence<byte>(Get);
        ReadOnlySequence<byte> split = Split(Get, 70); // inside the User-Agent line: the scratch-array path
        var response = new ReadOnlySequence<byte>(Response);

        long RunOnce()
        {
            long sum = 0;
            var handler = new NoOpHandler();
            requests.Reset();
            sum += (int)requests.Parse(ref handler, whole, out _, out _).Status;
            requests.Reset();
            sum += (int)requests.Parse(ref handler, split, out _, out _).Status;
            responses.Reset(Http1Method.Get);
            sum += (int)responses.Parse(ref handler, response, out SequencePosition consumed, out _).Status;
            chunked.Reset();
            ReadOnlySequence<byte> body = response.Slice(consumed);
            while (chunked.Decode(body, out SequencePosition used, out _, out ReadOnlySequence<byte> data) == ChunkedStatus.Data)
            {
                sum += data.Length;
                body = body.Slice(used);
            }

            return sum + handler.Count;
        }

        long expected = RunOnce();
        // 3 × Complete, 12 body bytes, 2 × (request line + 8 fields), status line + 3 fields.
        Assert.Equal((3 * (int)Http1ParseStatus.Complete) + 12 + 9 + 9 + 4, expected);
        long total = 0, runs = 0;
        double perMessage = ThreadAllocations.PerCall(1_000, () => { total += RunOnce(); runs++; });
        Assert.Equal(0, perMessage);
        Assert.Equal(runs * expected, total);
    }

    private static ReadOnlySequence<byte> Split(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at).ToArray(), 0);
        var second = new Segment(bytes.AsMemory(at).ToArray(), at);
        first.Link(second);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private struct NoOpHandler : IHttp1RequestHandler, IHttp1ResponseHandler
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

        public void Link(Segment next) => Next = next;
    }
}
