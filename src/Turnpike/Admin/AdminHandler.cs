using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.Hosting;
using Turnpike.Model;

namespace Turnpike.Admin;

/// <summary>
/// The admin listener: <c>/healthz</c>, <c>/readyz</c>, <c>GET /admin/config</c>, <c>GET /admin/clusters</c>,
/// <c>GET /admin/ratelimits</c>, <c>GET /admin/connections</c>, <c>GET /admin/auth</c>, <c>POST /admin/reload</c>,
/// <c>GET /admin/routes</c>, <c>GET /admin/errors</c>, <c>POST /admin/destinations/{cluster}/{id}/drain|enable</c>, the
/// live dashboard page (<c>GET /</c>, embedded files) and its event stream (<c>GET /admin/stream</c>).
/// Plain path dispatch, no routing framework: nothing here runs on the proxy's request path.
/// </summary>
internal sealed partial class AdminHandler(GatewayState state, TurnpikeServer server, string? token)
{
    private const string Redacted = "***";
    private readonly byte[]? _token = token is null ? null : Encoding.UTF8.GetBytes(token);

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        var method = context.Request.Method;
        switch (path)
        {
            case "/healthz":
                await WriteText(context, 200, "ok\n").ConfigureAwait(false);
                return;
            case "/readyz":
                var ready = server.IsReady && state.HasConfig;
                await WriteText(context, ready ? 200 : 503, ready ? "ready\n" : "not ready\n").ConfigureAwait(false);
                return;
        }

        // The dashboard's static files hold no data (everything comes from /admin/stream), so they need no token.
        if ((HttpMethods.IsGet(method) || HttpMethods.IsHead(method)) && Dashboard.DashboardAssets.TryServe(context, out var asset))
        {
            await asset.ConfigureAwait(false);
            return;
        }

        if (!path.StartsWith("/admin/", StringComparison.Ordinal))
        {
            await WriteText(context, 404, "not found\n").ConfigureAwait(false);
            return;
        }

        if (!IsAuthorized(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"turnpike-admin\"";
            await WriteText(context, 401, "unauthorized\n").ConfigureAwait(false);
            return;
        }

        switch (path)
        {
            case "/admin/config" when HttpMethods.IsGet(method):
                var config = state.Current.Config;
                config = config with { Admin = config.Admin with { Token = config.Admin.Token is null ? null : Redacted } };
                config = config.Redis is { } redis ? config with { Redis = redis with { Configuration = RedactRedis(redis.Configuration) } } : config;
                await WriteJson(context, 200, config, AdminJsonContext.Default.GatewayConfig).ConfigureAwait(false);
                return;
            case "/admin/clusters" when HttpMethods.IsGet(method):
                await WriteJson(context, 200, DescribeClusters(state.Current), AdminJsonContext.Default.ClustersResponse).ConfigureAwait(false);
                return;
            case "/admin/ratelimits" when HttpMethods.IsGet(method):
                await WriteJson(context, 200, RateLimitsResponse.Describe(state.Current), AdminJsonContext.Default.RateLimitsResponse).ConfigureAwait(false);
                return;
            case "/admin/auth" when HttpMethods.IsGet(method):
                await WriteJson(context, 200, AuthResponse.Describe(state.Current), AdminJsonContext.Default.AuthResponse).ConfigureAwait(false);
                return;
            case "/admin/connections" when HttpMethods.IsGet(method) && server.ConnectionLimiter is { } limiter:
                await WriteJson(context, 200, ConnectionsResponse.From(limiter), AdminJsonContext.Default.ConnectionsResponse).ConfigureAwait(false);
                return;
            case "/admin/routes" when HttpMethods.IsGet(method):
                await WriteJson(context, 200, DescribeRoutes(state.Current), AdminJsonContext.Default.RoutesResponse).ConfigureAwait(false);
                return;
            case "/admin/errors" when HttpMethods.IsGet(method) && server.RecentErrors is { } recent:
                await WriteJson(context, 200, new ErrorsResponse(recent.Total, recent.Capacity, recent.Snapshot()), AdminJsonContext.Default.ErrorsResponse).ConfigureAwait(false);
                return;
            case "/admin/stream" when HttpMethods.IsGet(method) && server.DashboardStream is { } stream:
                await stream.ServeAsync(context).ConfigureAwait(false);
                return;
            case "/admin/reload" when HttpMethods.IsPost(method):
                var errors = await state.ReloadAsync(context.RequestAborted).ConfigureAwait(false);
                var response = new ReloadResponse(errors.Count == 0, state.Current.Generation, errors);
                await WriteJson(context, errors.Count == 0 ? 200 : 422, response, AdminJsonContext.Default.ReloadResponse).ConfigureAwait(false);
                return;
            case "/admin/config" or "/admin/clusters" or "/admin/ratelimits" or "/admin/reload" or "/admin/connections" or "/admin/auth" or "/admin/routes" or "/admin/errors" or "/admin/stream":
                context.Response.Headers.Allow = path == "/admin/reload" ? "POST" : "GET";
                await WriteText(context, 405, "method not allowed\n").ConfigureAwait(false);
                return;
            default:
                if (await TryDrainAsync(context, path).ConfigureAwait(false))
                {
                    return;
                }

                await WriteText(context, 404, "not found\n").ConfigureAwait(false);
                return;
        }
    }

    internal static ClustersResponse DescribeClusters(GatewaySnapshot snapshot)
    {
        var clusters = new List<ClusterStatus>(snapshot.Clusters.Count);
        foreach (var cluster in snapshot.Config.Clusters)
        {
            var model = snapshot.Clusters[cluster.Id];
            var selection = model.Health.Selection;
            var destinations = new List<DestinationStatus>(model.Destinations.Length);
            var members = model.Health.Members;
            for (var i = 0; i < model.Destinations.Length; i++)
            {
                var d = model.Destinations[i];
                destinations.Add(new DestinationStatus(
                    d.Id,
                    d.Address,
                    d.Priority,
                    Array.IndexOf(selection.Eligible, d) >= 0,
                    d.Health?.ActiveHealthy ?? true,
                    d.Health?.Ejected ?? false,
                    d.Health?.Breaker?.State,
                    d.InFlight,
                    d.Requests,
                    d.Failures,
                    i < members.Length && ReferenceEquals(members[i].Destination, d) && members[i].Drained,
                    d.Latency is { } ewma ? Math.Round(ewma.EstimateMs(ewma.TimeProvider.GetTimestamp()), 3) : null));
            }

            var limiter = model.Concurrency;
            var concurrency = limiter is null ? null : new ConcurrencyStatus(
                limiter.Config.Algorithm == ConcurrencyAlgorithm.Aimd ? "aimd" : "gradient",
                limiter.Limit, limiter.InFlight, limiter.Admitted, limiter.Shed, limiter.MinRttMs, Math.Round(limiter.SampleRttMs, 3), limiter.Measuring);
            clusters.Add(new ClusterStatus(cluster.Id, selection.Policy.Name, selection.Eligible.Length, destinations, concurrency));
        }

        return new ClustersResponse(snapshot.Generation, clusters);
    }

    /// <summary>Hides a password in a Redis configuration string ("host:6379,password=…").</summary>
    internal static string RedactRedis(string configuration) =>
        string.Join(",", configuration.Split(',').Select(part => part.TrimStart().StartsWith("password=", StringComparison.OrdinalIgnoreCase) ? "password=" + Redacted : part));

    internal bool IsAuthorized(HttpRequest request)
    {
        if (_token is null)
        {
            return true;
        }

        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0 && request.Path.Value == "/admin/stream" && request.Query.TryGetValue("token", out var query))
        {
            // EventSource cannot send headers: the dashboard page passes the token in the stream's URL.
            return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(query.ToString()), _token);
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[7..].Trim()), _token);
    }

    private static Task WriteText(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text);
    }

    private static async Task WriteJson<T>(HttpContext context, int status, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, typeInfo, context.RequestAborted).ConfigureAwait(false);
    }
}
