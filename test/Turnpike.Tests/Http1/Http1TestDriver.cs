using System.Buffers;
using System.Text;
using Turnpike.Http1;

namespace Turnpike.Tests.Http1;

/// <summary>Everything observable about one parse: compared between one-piece and split deliveries.</summary>
internal sealed record ParseOutcome(Http1ParseStatus Status, int StatusCode, Http1Error Error, string Events, long Consumed, int Calls)
{
    public Http1RequestInfo Request { get; init; }

    public Http1ResponseInfo Response { get; init; }

    /// <summary>Same verdict and same callbacks, whatever the number of calls it took.</summary>
    public string Verdict => Status == Http1ParseStatus.Error
        ? $"Error {StatusCode} {Error}"
        : $"{Status} consumed={Consumed} {Events} | {Describe(Request)} | {Describe(Response)}";

    private static string Describe(Http1RequestInfo r) =>
        $"{r.Method} {r.Version} {r.TargetForm} {r.Framing} {r.ContentLength} ka={r.KeepAlive} ec={r.ExpectContinue} up={r.HasUpgrade} head={r.HeadLength}";

    private static string Describe(Http1ResponseInfo r) =>
        $"{r.Version} {r.StatusCode} {r.Framing} {r.ContentLength} interim={r.IsInterim} up={r.IsUpgrade} reuse={r.Reusable} head={r.HeadLength}";
}

internal sealed record ChunkedOutcome(ChunkedStatus Status, int StatusCode, Http1Error Error, string Body, long Consumed)
{
    public string Verdict => Status == ChunkedStatus.Error ? $"Error {StatusCode} {Error}" : $"{Status} consumed={Consumed} body={Body}";
}

internal struct RecordingRequestHandler(StringBuilder log) : IHttp1RequestHandler
{
    public readonly void OnRequestLine(Http1Method method, ReadOnlySpan<byte> methodName, ReadOnlySpan<byte> target, Http1TargetForm form, Http1Version version) =>
        log.Append('[').Append(Encoding.Latin1.GetString(methodName)).Append(' ').Append(Encoding.Latin1.GetString(target)).Append(']');

    public readonly void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        log.Append('[').Append(known).Append(':').Append(Encoding.Latin1.GetString(name)).Append('=').Append(Encoding.Latin1.GetString(value)).Append(']');
}

internal struct RecordingResponseHandler(StringBuilder log) : IHttp1ResponseHandler
{
    public readonly void OnStatusLine(Http1Version version, int statusCode, ReadOnlySpan<byte> reasonPhrase) =>
        log.Append('[').Append(version).Append(' ').Append(statusCode).Append(' ').Append(Encoding.Latin1.GetString(reasonPhrase)).Append(']');

    public readonly void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        log.Append('[').Append(known).Append(':').Append(Encoding.Latin1.GetString(name)).Append('=').Append(Encoding.Latin1.GetString(value)).Append(']');
}

/// <summary>
/// Feeds a message to a parser the way a socket would: bytes arrive in chunks (the "plan"), the parser sees the
/// unconsumed rest plus what arrived, as a multi-segment sequence whose segment boundaries are the arrival
/// boundaries. Bounded: every NeedMoreData is followed by at least one new byte, or the run ends.
/// </summary>
internal static class Http1TestDriver
{
    public static ParseOutcome ParseRequest(byte[] bytes, Func<int>? nextChunk = null, Http1Limits? limits = null)
    {
        using var parser = new Http1RequestParser(limits ?? Http1Limits.Default);
        parser.Reset();
        var log = new StringBuilder();
        var handler = new RecordingRequestHandler(log);
        var (result, consumed, calls) = Run(bytes, nextChunk, (in ReadOnlySequence<byte> seq, out SequencePosition c) =>
            parser.Parse(ref handler, seq, out c, out _));
        return new ParseOutcome(result.Status, result.StatusCode, result.Error, log.ToString(), consumed, calls) { Request = parser.Request };
    }

    public static ParseOutcome ParseResponse(byte[] bytes, Func<int>? nextChunk = null, Http1Method requestMethod = Http1Method.Get, Http1Limits? limits = null)
    {
        using var parser = new Http1ResponseParser(limits ?? Http1Limits.Default);
        parser.Reset(requestMethod);
        var log = new StringBuilder();
        var handler = new RecordingResponseHandler(log);
        var (result, consumed, calls) = Run(bytes, nextChunk, (in ReadOnlySequence<byte> seq, out SequencePosition c) =>
            parser.Parse(ref handler, seq, out c, out _));
        return new ParseOutcome(result.Status, result.StatusCode, result.Error, log.ToString(), consumed, calls) { Response = parser.Response };
    }

    public static ChunkedOutcome DecodeChunked(byte[] bytes, Func<int>? nextChunk = null, bool requestSide = true, Http1Limits? limits = null)
    {
        using var decoder = new ChunkedDecoder(limits ?? Http1Limits.Default, requestSide);
        decoder.Reset();
        var body = new StringBuilder();
        var plan = new ArrivalPlan(bytes.Length, nextChunk);
        int start = 0;
        for (int calls = 0; calls < (4 * bytes.Length) + 16; calls++)
        {
            var seq = plan.Sequence(bytes, start);
            var status = decoder.Decode(seq, out SequencePosition consumed, out _, out ReadOnlySequence<byte> data);
            start += (int)seq.Slice(seq.Start, consumed).Length;
            switch (status)
            {
                case ChunkedStatus.Data:
                    Assert.True(data.Length > 0, "Data with no bytes");
                    body.Append(Encoding.Latin1.GetString(data.ToArray()));
                    continue;
                case ChunkedStatus.NeedMoreData:
                    if (!plan.Arrive())
                    {
                        return new ChunkedOutcome(status, 0, Http1Error.None, body.ToString(), start);
                    }

                    continue;
                case ChunkedStatus.Error:
                    return new ChunkedOutcome(status, decoder.Error.StatusCode, decoder.Error.Error, body.ToString(), start);
                default:
                    return new ChunkedOutcome(status, 0, Http1Error.None, body.ToString(), start);
            }
        }

        throw new InvalidOperationException("the decoder did not terminate");
    }

    /// <summary>Random chunk sizes from <paramref name="random"/>, mostly small, sometimes large.</summary>
    public static Func<int> RandomChunks(Random random) => () => random.Next(4) == 0 ? random.Next(1, 200) : random.Next(1, 8);

    public static Func<int> FixedChunks(int size) => () => size;

    /// <summary>Two pieces: the first <paramref name="firstLength"/> bytes, then the rest.</summary>
    public static Func<int> SplitAt(int firstLength)
    {
        bool first = true;
        return () =>
        {
            if (first)
            {
                first = false;
                return Math.Max(1, firstLength);
            }

            return int.MaxValue;
        };
    }

    private delegate Http1ParseResult ParseStep(in ReadOnlySequence<byte> sequence, out SequencePosition consumed);

    private static (Http1ParseResult Result, long Consumed, int Calls) Run(byte[] bytes, Func<int>? nextChunk, ParseStep step)
    {
        var plan = new ArrivalPlan(bytes.Length, nextChunk);
        int start = 0;
        for (int calls = 1; calls <= bytes.Length + 2; calls++)
        {
            var seq = plan.Sequence(bytes, start);
            var result = step(seq, out SequencePosition consumed);
            start += (int)seq.Slice(seq.Start, consumed).Length;
            if (result.Status != Http1ParseStatus.NeedMoreData || !plan.Arrive())
            {
                return (result, start, calls);
            }
        }

        throw new InvalidOperationException("the parser did not terminate");
    }

    private sealed class ArrivalPlan
    {
        private readonly int _length;
        private readonly Func<int>? _next;
        private readonly List<int> _boundaries = [];
        private int _received;

        public ArrivalPlan(int length, Func<int>? next)
        {
            _length = length;
            _next = next;
            Arrive();
        }

        /// <summary>Receives the next chunk; false when everything has arrived already.</summary>
        public bool Arrive()
        {
            if (_received >= _length && _boundaries.Count > 0)
            {
                return false;
            }

            int size = _next is null ? _length : _next();
            _received = (int)Math.Min(_length, (long)_received + Math.Max(1, size));
            _boundaries.Add(_received);
            return true;
        }

        public ReadOnlySequence<byte> Sequence(byte[] bytes, int start)
        {
            Segment? first = null;
            Segment? last = null;
            int from = start;
            foreach (int boundary in _boundaries)
            {
                if (boundary <= from)
                {
                    continue;
                }

                var segment = new Segment(bytes.AsMemory(from, boundary - from).ToArray());
                if (first is null)
                {
                    first = last = segment;
                }
                else
                {
                    last = last!.Append(segment);
                }

                from = boundary;
            }

            return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
            return next;
        }
    }

    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);
}
