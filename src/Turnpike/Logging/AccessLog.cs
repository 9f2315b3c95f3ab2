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
/// when the queue is full, lines are dropped and counted rather than queued without bound.
/// </summary>
internal sealed partial class AccessLog : IAsyncDisposable
{
    private readonly Channel<byte[]> _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(16_384)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly AccessLogConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task? _writer;
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
    public bool Begin(HttpContext context, GatewayRequestFeature feature)
    {
        if (_config.SampleRate < 1 && Random.Shared.NextDouble() >= _config.SampleRate)
        {
            return false;
        }

        feature.StartTimestamp = _time.GetTimestamp();
        var counting = new CountingStreams(context.Request.Body, context.Response.Body);
        context.Request.Body = counting.Request;
        context.Response.Body = counting.Response;
        feature.Counters = counting;
        return true;
    }

    public void Complete(HttpContext context, GatewayRequestFeature feature)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("ts", _time.GetUtcNow());
            json.WriteString("trace_id", Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier);
            json.WriteString("client", context.Connection.RemoteIpAddress?.ToString());
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
        }

        buffer.Write("\n"u8);
        if (!_queue.Writer.TryWrite(buffer.WrittenSpan.ToArray()))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task WriteLoopAsync()
    {
        Stream output;
        try
        {
            output = _config.Path == "stdout"
                ? Console.OpenStandardOutput()
                : new FileStream(_config.Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 64 * 1024, useAsync: true);
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
                while (reader.TryRead(out var line))
                {
                    await output.WriteAsync(line).ConfigureAwait(false);
                }

                await output.FlushAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }

    [LoggerMessage(20, LogLevel.Error, "Cannot open the access log {Path}: {Error}")]
    private static partial void LogOpenFailed(ILogger logger, string path, string error);
}
