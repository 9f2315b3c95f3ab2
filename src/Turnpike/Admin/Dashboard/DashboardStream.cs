using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.Admin.Dashboard;

/// <summary>
/// <c>GET /admin/stream</c>: Server-Sent Events, one JSON <see cref="DashboardEvent"/> per second (the first one
/// carries the whole history). At most <see cref="MaxStreams"/> at a time (further ones get 503); a stream ends
/// when the client goes away or the gateway stops.
/// </summary>
internal sealed class DashboardStream(LiveStats stats, GatewayState state)
{
    public const int MaxStreams = 16;
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private int _open;

    public int Open => Volatile.Read(ref _open);

    public async Task ServeAsync(HttpContext context)
    {
        if (Interlocked.Increment(ref _open) > MaxStreams)
        {
            Interlocked.Decrement(ref _open);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            await context.Response.WriteAsync($"at most {MaxStreams} dashboard streams at a time\n").ConfigureAwait(false);
            return;
        }

        try
        {
            var response = context.Response;
            var aborted = context.RequestAborted;
            response.StatusCode = 200;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            // Tell EventSource to reconnect after 2 s if the connection drops.
            await response.Body.WriteAsync(Encoding.ASCII.GetBytes("retry: 2000\n\n"), aborted).ConfigureAwait(false);
            await WriteEventAsync(response, Build(stats.History()), aborted).ConfigureAwait(false);
            while (await stats.WaitForTickAsync(aborted).ConfigureAwait(false))
            {
                var latest = stats.Latest;
                await WriteEventAsync(response, Build(latest is null ? [] : [latest]), aborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client went away.
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    internal DashboardEvent Build(IReadOnlyList<SecondStats> seconds)
    {
        var snapshot = state.Current;
        var clusters = AdminHandler.DescribeClusters(snapshot).Clusters;
        long inFlight = 0;
        foreach (var c in clusters)
        {
            foreach (var d in c.Destinations)
            {
                inFlight += d.InFlight;
            }
        }

        var limits = new List<RateLimitTotal>(snapshot.RateLimits.Policies.Count);
        foreach (var config in snapshot.Config.RateLimits)
        {
            var counters = snapshot.RateLimits.Policies[config.Name].Counters;
            limits.Add(new RateLimitTotal(config.Name, counters.Admitted, counters.Rejected));
        }

        return new DashboardEvent(snapshot.Generation, stats.Capacity, inFlight, seconds, clusters, limits);
    }

    private static async Task WriteEventAsync(HttpResponse response, DashboardEvent e, CancellationToken token)
    {
        // One line of JSON (not indented) makes one "data:" field.
        var json = JsonSerializer.SerializeToUtf8Bytes(e, DashboardJsonContext.Default.DashboardEvent);
        await response.Body.WriteAsync(DataPrefix, token).ConfigureAwait(false);
        await response.Body.WriteAsync(json, token).ConfigureAwait(false);
        await response.Body.WriteAsync(EventEnd, token).ConfigureAwait(false);
        await response.Body.FlushAsync(token).ConfigureAwait(false);
    }
}

/// <summary>One SSE event: the new second(s), the cluster/destination table and rate-limit totals.</summary>
internal sealed record DashboardEvent(
    long Generation,
    int HistorySeconds,
    long InFlight,
    IReadOnlyList<SecondStats> Seconds,
    IReadOnlyList<ClusterStatus> Clusters,
    IReadOnlyList<RateLimitTotal> RateLimits);

internal sealed record RateLimitTotal(string Policy, long Admitted, long Rejected);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    WriteIndented = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DashboardEvent))]
internal sealed partial class DashboardJsonContext : JsonSerializerContext;
