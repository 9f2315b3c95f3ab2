using System.Diagnostics;
using System.Globalization;
using System.Net;
using HdrHistogram;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Turnpike.Bench.DelayServer;

/// <summary>
/// A Kestrel server on 127.0.0.1 that answers every request with a 3-byte body after a delay from its
/// <see cref="DelayDistribution"/>, and records each request's service time as it measured it (handler entry to
/// body written, delays by <see cref="PreciseDelays"/>; the recorded times, not the nominal
/// delays, are the truth a load tool is compared with). <c>GET /__stats</c> returns them as JSON, <c>POST
/// /__reset</c> clears them.
/// </summary>
public sealed class DelayTarget : IAsyncDisposable
{
    private static readonly byte[] Body = "ok\n"u8.ToArray();
    private readonly WebApplication _app;
    private readonly DelayDistribution _delays;
    private readonly LongConcurrentHistogram _serviceMicros = new(1, 3_600_000_000, 3);
    private readonly PreciseDelays _timer;

    private DelayTarget(WebApplication app, DelayDistribution delays)
    {
        _app = app;
        _delays = delays;
        _timer = new PreciseDelays(delays.Shortest);
    }

    public Uri Url { get; private set; } = null!;

    /// <summary>Cancelled when the host stops (its console lifetime handles SIGTERM).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    public static async Task<DelayTarget> StartAsync(int port, DelayDistribution delays)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, port);
            o.Limits.MaxConcurrentConnections = 10_000;
        });
        var app = builder.Build();
        var target = new DelayTarget(app, delays);
        app.Run(target.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        target.Url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return target;
    }

    /// <summary>Service times recorded since the start or the last reset, in ms: count, min, p50, p90, p99, max.</summary>
    public ServiceTimes Snapshot()
    {
        var h = _serviceMicros.Copy();
        return h.TotalCount == 0
            ? new ServiceTimes(0, 0, 0, 0, 0, 0)
            : new ServiceTimes(h.TotalCount, h.GetValueAtPercentile(0) / 1000.0, h.GetValueAtPercentile(50) / 1000.0, h.GetValueAtPercentile(90) / 1000.0, h.GetValueAtPercentile(99) / 1000.0, h.GetMaxValue() / 1000.0);
    }

    public void Reset() => _serviceMicros.Reset();

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value;
        if (path == "/__stats")
        {
            var s = Snapshot();
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"{{\"delays\":\"{_delays.Text}\",\"count\":{s.Count},\"min\":{s.Min},\"p50\":{s.P50},\"p90\":{s.P90},\"p99\":{s.P99},\"max\":{s.Max}}}\n"));
            return;
        }

        if (path == "/__reset")
        {
            Reset();
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var start = Stopwatch.GetTimestamp();
        await _timer.DelayAsync(_delays.Next());
        context.Response.ContentLength = Body.Length;
        await context.Response.Body.WriteAsync(Body, context.RequestAborted);
        var micros = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        _serviceMicros.RecordValue(Math.Max(1, micros));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _timer.Dispose();
    }
}

/// <summary>Service-time percentiles in ms.</summary>
public readonly record struct ServiceTimes(long Count, double Min, double P50, double P90, double P99, double Max);
