using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;
using Turnpike.Pipeline;

namespace Turnpike.Logging;

/// <summary>
/// One JSON line per sampled request (trace id, client, route, cluster, destination, status, total and upstream
/// duration, bytes in/out). Lines are
/// formatted on the request thread and written by a background task, so a slow disk never blocks a request;
/// when the queue is full, lines are dropped and counted rather than queued without bound. The writer wakes at most
/// once per <see cref="AccessLogConfig.FlushInterval"/>; disposing writes what is queued.
/// </summary>
internal sealed partial class AccessLog : IAsyncDisposable
{
    [ThreadStatic]
    private static LineWriter? t_line;

    /// <summary>Queued lines that end the writer's pause early: a quarter of the queue.</summary>
    private const int HighWater = Capacity / 4;
    private const int Capacity = 16_384;

    private readonly Channel<Line> _queue = Channel.CreateBounded<Line>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly AccessLogConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task? _writer;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource? _pause;
    private long _dropped;

    public AccessLog(AccessLogConfig config, TimeProvider time, ILogger<AccessLog> logger)
    {
        _config = config;
        _time = time;
        _logger = logger;
        Enabled = config.Enabled && config.SampleRate > 0;
        if (Enabled)
        {
            _writer = Task.Run(WriteLoopAsync);
        }
    }

    public bool Enabled { get; }

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Decides whether this request is logged; if so, starts timing it and counting its body bytes.</summary>
    /// <param name="started">The request's start when the caller already read it (0: now). The first upstream attempt
    /// is timed from that same read, so <c>upstream_ms</c> never exceeds <c>duration_ms</c>.</param>
    public bool Begin(HttpContext context, GatewayRequestFeature feature, long started = 0)
    {
        if (_config.SampleRate < 1 && Random.Shared.NextDouble() >= _config.SampleRate)
        {
            return false;
        }

        feature.StartTimestamp = started != 0 ? started : _time.GetTimestamp();
        var counting = feature.SpareCounters;
        if (counting is null)
        {
            counting = feature.SpareCounters = new CountingStreams(context.Request.Body, context.Response.Body);
        }
        else
        {
            counting.Wrap(context.Request.Body, context.Response.Body);
        }

        context.Request.Body = counting.Request;
        context.Response.Body = counting.Response;
        feature.Counters = counting;
        return true;
    }

    /// <summary>
    /// Formats the line into this thread's reused JSON writer and queues a copy in a pooled array (returned by the
    /// writer task), so a sampled request allocates nothing of its own beyond what it asks the server for (a trace
    /// identifier).
    /// </summary>
    public void Complete(HttpContext context, GatewayRequestFeature feature)
    {
        var line = t_line ??= new LineWriter();
        line.Buffer.ResetWrittenCount();
        var json = line.Json;
        json.Reset(line.Buffer);
        json.WriteStartObject();
        json.WriteString("ts", _time.GetUtcNow());
        Span<char> text = stackalloc char[64];
        if (Activity.Current is { } activity)
        {
            Span<byte> id = stackalloc byte[16];
            activity.TraceId.CopyTo(id);
            Convert.TryToHexStringLower(id, text, out var hex);
            json.WriteString("trace_id", text[..hex]);
        }
        else if (context.Features is ITraceIdentifierSource source && source.TryFormatTraceIdentifier(text, out var length))
        {
            json.WriteString("trace_id", text[..length]);
        }
        else
        {
            json.WriteString("trace_id", context.TraceIdentifier);
        }

        if (context.Connection.RemoteIpAddress is { } client && client.TryFormat(text, out var written))
        {
            json.WriteString("client", text[..written]);
        }
        else
        {
            json.WriteNull("client");
        }

        json.WriteString("method", context.Request.Method);
        json.WriteString("path", context.Request.Path.Value);
        json.WriteString("protocol", context.Request.Protocol);
        json.WriteString("route", feature.RouteId);
        json.WriteString("cluster", feature.ClusterId);
        json.WriteString("destination", feature.DestinationId);
        json.WriteNumber("attempts", feature.Attempts);
        json.WriteNumber("status", context.Response.StatusCode);
        if (feature.ErrorReason is { } reason)
        {
            json.WriteString("error", reason);
        }

        json.WriteNumber("duration_ms", Math.Round(_time.GetElapsedTime(feature.StartTimestamp).TotalMilliseconds, 3));
        if (feature.Attempts > 0)
        {
            json.WriteNumber("upstream_ms", Math.Round(feature.UpstreamDuration.TotalMilliseconds, 3));
        }

        json.WriteNumber("bytes_in", feature.Counters?.Request.Count ?? 0);
        json.WriteNumber("bytes_out", feature.Counters?.Response.Count ?? 0);
        json.WriteEndObject();
        json.Flush();
        line.Buffer.Write("\n"u8);

        var bytes = line.Buffer.WrittenSpan;
        var copy = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(copy);
        if (!_queue.Writer.TryWrite(new Line(copy, bytes.Length)))
        {
            ArrayPool<byte>.Shared.Return(copy);
            Interlocked.Increment(ref _dropped);
        }
        else if (_queue.Reader.Count >= HighWater)
        {
            Volatile.Read(ref _pause)?.TrySetResult();
        }
    }

    private async Task WriteLoopAsync()
    {
        Stream output;
        try
        {
            output = _config.Path == "stdout"
                ? Console.OpenStandardOutput()
                : new FileStream(_config.Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 64 * 1024, useAsync: false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogOpenFailed(_logger, _config.Path, ex.Message);
            return;
        }

        await using (output.ConfigureAwait(false))
        {
            var reader = _queue.Reader;
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Synchronous writes on this background task (a thread-pool thread, never a socket thread): the file
                // stream's asynchronous flush allocated a state machine and an I/O operation per batch, which at low
                // load is per sampled request. Lines go into the stream's 64 KiB buffer; one write() per batch.
                while (reader.TryRead(out var line))
                {
                    try
                    {
                        output.Write(line.Buffer, 0, line.Length);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(line.Buffer);
                    }
                }

                output.Flush();

                // Lines queued during the pause wake nothing (no reader is waiting): one wake-up and one write per
                // interval instead of one per sampled request, which on a busy core cost a thread-pool wake-up,
                // its spinning and context switches each time. A quarter-full queue ends the pause early.
                if (_config.FlushInterval > TimeSpan.Zero && !_stopping.IsCancellationRequested)
                {
                    var pause = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    Volatile.Write(ref _pause, pause);
                    if (reader.Count < HighWater)
                    {
                        await Task.WhenAny(pause.Task, Task.Delay(_config.FlushInterval, _time, _stopping.Token)).ConfigureAwait(false);
                    }

                    Volatile.Write(ref _pause, null);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }

    /// <summary>One formatted line in a pooled array.</summary>
    private readonly record struct Line(byte[] Buffer, int Length);

    /// <summary>A request thread's reused buffer and JSON writer (a line is formatted and copied out in one call).</summary>
    private sealed class LineWriter
    {
        public ArrayBufferWriter<byte> Buffer { get; } = new(512);

        public Utf8JsonWriter Json { get; }

        public LineWriter() => Json = new Utf8JsonWriter(Buffer);
    }

    [LoggerMessage(20, LogLevel.Error, "Cannot open the access log {Path}: {Error}")]
    private static partial void LogOpenFailed(ILogger logger, string path, string error);
}
