using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;
using Turnpike.Forwarding;

namespace Turnpike.Pipeline;

/// <summary>
/// The gateway's own answers: a status, an <c>x-turnpike-error</c> reason header and a small JSON body, all
/// precomputed so writing one allocates nothing.
/// </summary>
internal static class ErrorResponses
{
    public const string ReasonHeader = "x-turnpike-error";

    private static readonly ErrorResponse[] Responses = Build();

    public static int StatusOf(GatewayErrorCode code) => Responses[(int)code].Status;

    public static string ReasonOf(GatewayErrorCode code) => Responses[(int)code].Reason;

    public static Task WriteAsync(HttpContext context, GatewayErrorCode code) =>
        TryBegin(context, code) ? WriteBodyAsync(context, code) : Task.CompletedTask;

    /// <summary>Clears the response and sets the status, reason and content headers; false when the response has already
    /// started. More headers may be added before <see cref="WriteBodyAsync"/>.</summary>
    public static bool TryBegin(HttpContext context, GatewayErrorCode code)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return false;
        }

        var e = Responses[(int)code];
        if (e.Status >= 500)
        {
            // Rare path: the admin API's ring of recent gateway errors.
            context.RequestServices?.GetService<Admin.RecentErrors>()?.Record(context, code);
        }

        response.Clear();
        response.StatusCode = e.Status;
        response.Headers[ReasonHeader] = e.Reason;
        response.ContentType = "application/json";
        response.ContentLength = e.Body.Length;
        return true;
    }

    public static Task WriteBodyAsync(HttpContext context, GatewayErrorCode code) =>
        HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.Body.WriteAsync(Responses[(int)code].Body).AsTask();

    private static ErrorResponse[] Build()
    {
        var values = Enum.GetValues<GatewayErrorCode>();
        var list = new ErrorResponse[values.Length];
        foreach (var code in values)
        {
            var (status, reason, message) = code switch
            {
                GatewayErrorCode.NoRoute => (404, "no_route", "No route matches this request."),
                GatewayErrorCode.InvalidHeader => (400, "invalid_header", "A request header contains characters that cannot be forwarded."),
                GatewayErrorCode.NoHealthyDestination => (503, "no_healthy_destination", "The cluster has no destination that can take this request."),
                GatewayErrorCode.ConnectionRefused => (502, "connection_refused", "The upstream refused the connection or could not be reached."),
                GatewayErrorCode.ConnectTimeout => (504, "connect_timeout", "The upstream did not accept a connection in time."),
                GatewayErrorCode.UpstreamTimeout => (504, "upstream_timeout", "The upstream did not answer in time."),
                GatewayErrorCode.UpstreamReset => (502, "upstream_reset", "The upstream closed the connection before answering."),
                GatewayErrorCode.UpstreamError => (502, "upstream_error", "The upstream's answer could not be read."),
                GatewayErrorCode.ClientBodyError => (400, "client_body_error", "The request body could not be read from the client."),
                GatewayErrorCode.ConcurrencyLimited => (503, "concurrency_limited", "The cluster is at its adaptive concurrency limit; retry later."),
                GatewayErrorCode.RateLimited => (429, "rate_limited", "Too many requests: a rate limit of this route was reached."),
                GatewayErrorCode.Unauthorized => (401, "unauthorized", "Authentication is required: the request brought no acceptable credentials."),
                GatewayErrorCode.Forbidden => (403, "forbidden", "The credentials are valid but do not allow this request."),
                _ => (500, "internal", "Internal gateway error."),
            };
            var body = Encoding.UTF8.GetBytes($"{{\"status\":{status},\"error\":\"{reason}\",\"message\":\"{message}\"}}");
            list[(int)code] = new ErrorResponse(status, reason, body);
        }

        return list;
    }

    private sealed record ErrorResponse(int Status, string Reason, byte[] Body);
}
