using System.Buffers;

namespace Turnpike.Http1;

internal enum Http1LineStatus : byte
{
    Line,
    NeedMoreData,
    TooLong,
    BareLineFeed,
    BareCarriageReturn,
}

/// <summary>What <see cref="Http1LineReader.ReadHead"/> hands each line of a message head to.</summary>
internal interface IHttp1LineSink
{
    /// <summary>The longest line allowed next (it may shrink as the head grows).</summary>
    int MaxLineLength();

    /// <summary>One complete line without its CRLF; <paramref name="lineBytes"/> counts the CRLF. NeedMoreData: line taken, go on.</summary>
    Http1ParseResult OnLine(scoped ReadOnlySpan<byte> line, int lineBytes);

    /// <summary>The line could not be read (incomplete, too long, bare CR or LF).</summary>
    Http1ParseResult LineFailure(Http1LineStatus status);
}

/// <summary>
/// Takes one CRLF-terminated line off the front of a sequence. A line that spans segments is copied into a scratch
/// array the caller owns (rented once, reused); a line in one segment is returned in place.
/// </summary>
internal static class Http1LineReader
{
    /// <summary>
    /// Reads lines off <paramref name="buffer"/> and hands each to <paramref name="sink"/> until the sink says the
    /// head is complete or failed, or the bytes run out: the loop both head parsers share.
    /// </summary>
    /// <param name="consumed">The end of the last complete line: the caller advances its reader to here.</param>
    /// <param name="examined">On NeedMoreData everything was looked at (wait for more bytes); else equal to <paramref name="consumed"/>.</param>
    public static Http1ParseResult ReadHead<TSink>(ref TSink sink, in ReadOnlySequence<byte> buffer, ref byte[]? scratch, out SequencePosition consumed, out SequencePosition examined)
        where TSink : IHttp1LineSink, allows ref struct
    {
        Http1ParseResult result;
        Http1LineStatus status;
        if (buffer.IsSingleSegment)
        {
            // Fast path (the usual case: a head that arrived in one read): offsets into one span.
            ReadOnlySpan<byte> span = buffer.FirstSpan;
            int offset = 0;
            do
            {
                int start = offset;
                status = TryReadLine(span, ref offset, sink.MaxLineLength(), out ReadOnlySpan<byte> line);
                result = status == Http1LineStatus.Line ? sink.OnLine(line, offset - start) : sink.LineFailure(status);
            }
            while (status == Http1LineStatus.Line && result.Status == Http1ParseStatus.NeedMoreData);

            consumed = buffer.GetPosition(offset);
        }
        else
        {
            ReadOnlySequence<byte> rest = buffer;
            do
            {
                long before = rest.Length;
                status = TryReadLine(ref rest, sink.MaxLineLength(), ref scratch, out ReadOnlySpan<byte> line);
                result = status == Http1LineStatus.Line ? sink.OnLine(line, (int)(before - rest.Length)) : sink.LineFailure(status);
            }
            while (status == Http1LineStatus.Line && result.Status == Http1ParseStatus.NeedMoreData);

            consumed = rest.Start;
        }

        examined = result.Status == Http1ParseStatus.NeedMoreData ? buffer.End : consumed;
        return result;
    }

    /// <param name="buffer">Advanced past the line and its CRLF when a line is returned.</param>
    /// <param name="maxLength">The longest line content allowed (CRLF not counted); longer is <see cref="Http1LineStatus.TooLong"/>.</param>
    /// <param name="scratch">Rented from <see cref="ArrayPool{T}.Shared"/> on first need; the caller returns it.</param>
    /// <param name="line">The line without CRLF; valid until the next call.</param>
    public static Http1LineStatus TryReadLine(ref ReadOnlySequence<byte> buffer, int maxLength, ref byte[]? scratch, out ReadOnlySpan<byte> line)
    {
        line = default;
        long window = Math.Min(buffer.Length, (long)maxLength + 2);
        SequencePosition? lf;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= window)
        {
            // Fast path: the whole search window is in the first segment.
            int index = first[..(int)window].IndexOf((byte)'\n');
            if (index < 0)
            {
                return window == (long)maxLength + 2 ? Http1LineStatus.TooLong : Http1LineStatus.NeedMoreData;
            }

            return Finish(ref buffer, first[..index], buffer.GetPosition(index), out line);
        }

        lf = buffer.Slice(0, window).PositionOf((byte)'\n');
        if (lf is null)
        {
            return window == (long)maxLength + 2 ? Http1LineStatus.TooLong : Http1LineStatus.NeedMoreData;
        }

        ReadOnlySequence<byte> raw = buffer.Slice(0, lf.Value);
        ReadOnlySpan<byte> span;
        if (raw.IsSingleSegment)
        {
            span = raw.FirstSpan;
        }
        else
        {
            int length = (int)raw.Length;
            if (scratch is null || scratch.Length < length)
            {
                if (scratch is not null)
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }

                scratch = ArrayPool<byte>.Shared.Rent(Math.Max(length, 512));
            }

            raw.CopyTo(scratch);
            span = scratch.AsSpan(0, length);
        }

        return Finish(ref buffer, span, lf.Value, out line);
    }

    /// <summary>The same over one contiguous span: <paramref name="offset"/> is advanced past the line and its CRLF.</summary>
    public static Http1LineStatus TryReadLine(ReadOnlySpan<byte> span, ref int offset, int maxLength, out ReadOnlySpan<byte> line)
    {
        line = default;
        ReadOnlySpan<byte> rest = span[offset..];
        long window = Math.Min(rest.Length, (long)maxLength + 2);
        int index = rest[..(int)window].IndexOf((byte)'\n');
        if (index < 0)
        {
            return window == (long)maxLength + 2 ? Http1LineStatus.TooLong : Http1LineStatus.NeedMoreData;
        }

        Http1LineStatus status = Check(rest[..index], out line);
        if (status == Http1LineStatus.Line)
        {
            offset += index + 1;
        }

        return status;
    }

    private static Http1LineStatus Check(ReadOnlySpan<byte> withCr, out ReadOnlySpan<byte> line)
    {
        line = default;
        if (withCr.IsEmpty || withCr[^1] != (byte)'\r')
        {
            return Http1LineStatus.BareLineFeed;
        }

        ReadOnlySpan<byte> content = withCr[..^1];
        if (content.Contains((byte)'\r'))
        {
            return Http1LineStatus.BareCarriageReturn;
        }

        line = content;
        return Http1LineStatus.Line;
    }

    private static Http1LineStatus Finish(ref ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> withCr, SequencePosition lf, out ReadOnlySpan<byte> line)
    {
        Http1LineStatus status = Check(withCr, out line);
        if (status == Http1LineStatus.Line)
        {
            buffer = buffer.Slice(buffer.GetPosition(1, lf));
        }

        return status;
    }
}
