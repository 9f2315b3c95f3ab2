using System.Diagnostics;
using HdrHistogram;

namespace Turnpike.Tools.Bench;

/// <summary>
/// The statistics of a group of connections (one per <c>--threads</c>): two HDR histograms (latency from the
/// intended send time, and from the actual send) and Interlocked counters. Connections of a shard may complete on
/// different socket-engine threads, so the histograms are the concurrent variant; shards are merged at the end.
/// </summary>
internal sealed class BenchShard
{
    public const int MaxStatus = 600;

    private readonly long[] _status = new long[MaxStatus];
    private readonly long[] _errors = new long[4];
    private long _operations;
    private long _bytes;
    private long _connects;

    public LongConcurrentHistogram Corrected { get; } = LatencyHistogram.CreateConcurrent();

    public LongConcurrentHistogram Uncorrected { get; } = LatencyHistogram.CreateConcurrent();

    public long Operations => Volatile.Read(ref _operations);

    public long Bytes => Volatile.Read(ref _bytes);

    public long Connects => Volatile.Read(ref _connects);

    public long ErrorCount(BenchErrorKind kind) => Volatile.Read(ref _errors[(int)kind]);

    public long StatusCount(int status) => Volatile.Read(ref _status[status]);

    /// <summary>One answer: latency from the intended send time and from the actual send, both in Stopwatch ticks.</summary>
    public void RecordAnswer(int status, long intendedStart, long actualStart, long end)
    {
        Corrected.RecordValue(LatencyHistogram.ToMicros(end - intendedStart));
        Uncorrected.RecordValue(LatencyHistogram.ToMicros(end - actualStart));
        CountStatus(status);
        Interlocked.Increment(ref _operations);
    }

    /// <summary>Counts a status code (0: none, as for a WebSocket echo).</summary>
    public void CountStatus(int status)
    {
        if (status > 0 && status < MaxStatus)
        {
            Interlocked.Increment(ref _status[status]);
        }
    }

    public void RecordError(BenchErrorKind kind) => Interlocked.Increment(ref _errors[(int)kind]);

    public void AddBytes(long count) => Interlocked.Add(ref _bytes, count);

    public void CountConnect() => Interlocked.Increment(ref _connects);

    public static long Now => Stopwatch.GetTimestamp();
}
