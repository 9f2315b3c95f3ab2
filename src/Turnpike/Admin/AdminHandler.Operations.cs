using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.Admin;

/// <summary>Routes listing, recent errors, and draining or re-enabling a destination.</summary>
internal sealed partial class AdminHandler
{
    private const string DestinationsPrefix = "/admin/destinations/";

    internal static RoutesResponse DescribeRoutes(GatewaySnapshot snapshot)
    {
        var routes = new List<RouteStatus>(snapshot.Config.Routes.Count);
        foreach (var r in snapshot.Config.Routes)
        {
            var m = r.Match;
            routes.Add(new RouteStatus(
                r.Id,
                r.Order,
                r.Cluster,
                new RouteMatchStatus(m.Path, m.PathPrefix, m.Hosts, m.Methods, m.Headers.Count, m.Query.Count),
                r.Timeout?.TotalSeconds,
                r.Retry is not null,
                r.RateLimits,
                r.Bandwidth?.BytesPerSecond));
        }

        return new RoutesResponse(snapshot.Generation, routes);
    }

    /// <summary><c>POST /admin/destinations/{cluster}/{id}/drain</c> or <c>/enable</c>; false when the path is not one of them.</summary>
    private async Task<bool> TryDrainAsync(HttpContext context, string path)
    {
        if (!path.StartsWith(DestinationsPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = path[DestinationsPrefix.Length..].Split('/');
        if (parts.Length != 3 || parts[2] is not ("drain" or "enable") || parts[0].Length == 0 || parts[1].Length == 0)
        {
            return false;
        }

        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await WriteText(context, 405, "method not allowed\n").ConfigureAwait(false);
            return true;
        }

        var clusterId = Uri.UnescapeDataString(parts[0]);
        var destinationId = Uri.UnescapeDataString(parts[1]);
        var drain = parts[2] == "drain";
        var snapshot = state.Current;
        if (!snapshot.Clusters.TryGetValue(clusterId, out var cluster))
        {
            await WriteText(context, 404, $"no cluster '{clusterId}'\n").ConfigureAwait(false);
            return true;
        }

        if (!cluster.Health.SetDrained(destinationId, drain))
        {
            await WriteText(context, 404, $"cluster '{clusterId}' has no destination '{destinationId}'\n").ConfigureAwait(false);
            return true;
        }

        var status = DescribeClusters(snapshot).Clusters;
        DestinationStatus? described = null;
        foreach (var c in status)
        {
            if (c.Id == clusterId)
            {
                foreach (var d in c.Destinations)
                {
                    if (d.Id == destinationId)
                    {
                        described = d;
                    }
                }
            }
        }

        await WriteJson(context, 200, new DrainResponse(clusterId, described!), AdminJsonContext.Default.DrainResponse).ConfigureAwait(false);
        return true;
    }
}

/// <summary><c>GET /admin/routes</c>: every route in match order of the file, what it matches and where it sends.</summary>
internal sealed record RoutesResponse(long Generation, IReadOnlyList<RouteStatus> Routes);

internal sealed record RouteStatus(
    string Id,
    int Order,
    string Cluster,
    RouteMatchStatus Match,
    double? TimeoutSeconds,
    bool Retry,
    IReadOnlyList<string> RateLimits,
    long? BandwidthBytesPerSecond);

internal sealed record RouteMatchStatus(string? Path, string? PathPrefix, IReadOnlyList<string> Hosts, IReadOnlyList<string> Methods, int Headers, int Query);

/// <summary><c>GET /admin/errors</c>: the most recent errors the gateway answered itself, newest first.</summary>
internal sealed record ErrorsResponse(long Total, int Capacity, IReadOnlyList<GatewayErrorEntry> Errors);

/// <summary>The answer to a drain or enable: the destination as <c>GET /admin/clusters</c> now shows it.</summary>
internal sealed record DrainResponse(string Cluster, DestinationStatus Destination);
