using Microsoft.AspNetCore.Http;
using Turnpike.Forwarding;
using Turnpike.Pipeline;

namespace Turnpike.Admin;

/// <summary>One error the gateway answered by itself (5xx), as <c>GET /admin/errors</c> lists it.</summary>
internal sealed record GatewayErrorEntry(DateTimeOffset Time, string Method, string? Route, string? Cluster, string? Destination, int Status, string Reason);

/// <summary>
/// A bounded ring of the most recent errors the gateway answered itself (502/503/504). Recorded only on that path,
/// lock-free: one <see cref="Interlocked.Increment(ref long)"/> for the slot and one reference write.
/// </summary>
internal sealed class RecentErrors(TimeProvider time, int capacity = RecentErrors.DefaultCapacity)
{
    public const int DefaultCapacity = 100;
    private readonly GatewayErrorEntry?[] _ring = new GatewayErrorEntry?[capacity];
    private long _next;

    public long Total => Volatile.Read(ref _next);

    public int Capacity => _ring.Length;

    public void Record(HttpContext context, GatewayErrorCode code)
    {
        var feature = context.Features.Get<IGatewayRequestFeature>();
        var entry = new GatewayErrorEntry(
            time.GetUtcNow(),
            context.Request.Method,
            feature?.RouteId,
            feature?.ClusterId,
            feature?.DestinationId,
            ErrorResponses.StatusOf(code),
            ErrorResponses.ReasonOf(code));
        var slot = Interlocked.Increment(ref _next) - 1;
        Volatile.Write(ref _ring[slot % _ring.Length], entry);
    }

    /// <summary>The kept errors, newest first.</summary>
    public List<GatewayErrorEntry> Snapshot()
    {
        var end = Volatile.Read(ref _next);
        var count = (int)Math.Min(end, _ring.Length);
        var list = new List<GatewayErrorEntry>(count);
        for (var i = end - 1; i >= end - count; i--)
        {
            if (Volatile.Read(ref _ring[i % _ring.Length]) is { } e)
            {
                list.Add(e);
            }
        }

        return list;
    }
}
