using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Turnpike.Observability;

/// <summary>
/// The gateway's two duration histograms (<c>turnpike.request.duration</c>, <c>turnpike.upstream.request.duration</c>)
/// in the Prometheus scrape: kept as <see cref="DurationHistogram"/> series by <see cref="GatewayMetrics"/> and
/// <see cref="UpstreamMetrics"/>, dropped from OpenTelemetry's aggregation (<see cref="MetricsExport"/>), and written
/// into the exporter's answer here, with the same names, labels, buckets, <c>_sum</c> and <c>_count</c> as before.
/// </summary>
internal sealed class DurationHistogramExport(GatewayMetrics requests, UpstreamMetrics upstream)
{
    private const string Scope = "otel_scope_name=\"" + TurnpikeMeter.Name + "\"";
    private static readonly byte[] OpenMetricsEnd = "# EOF\n"u8.ToArray();

    /// <summary>The instruments this class exports instead of OpenTelemetry.</summary>
    public static bool Exports(string instrumentName) => instrumentName is GatewayMetrics.DurationName or UpstreamMetrics.DurationName;

    /// <summary>Both families in the text (or OpenMetrics) format; a family without series is left out.</summary>
    public void Write(StringBuilder text, bool openMetrics)
    {
        var series = new List<DurationHistogram>();
        requests.CollectDurations(series);
        WriteFamily(text, "turnpike_request_duration_seconds", GatewayMetrics.DurationDescription, openMetrics, series);
        series.Clear();
        upstream.CollectDurations(series);
        WriteFamily(text, "turnpike_upstream_request_duration_seconds", UpstreamMetrics.DurationDescription, openMetrics, series);
    }

    private static void WriteFamily(StringBuilder text, string name, string help, bool openMetrics, List<DurationHistogram> series)
    {
        var start = text.Length;
        text.Append("# TYPE ").Append(name).Append(" histogram\n");
        if (openMetrics)
        {
            text.Append("# UNIT ").Append(name).Append(" seconds\n");
        }

        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        var header = text.Length;
        foreach (var histogram in series)
        {
            histogram.WriteTo(text, name, Scope, openMetrics);
        }

        if (text.Length == header)
        {
            text.Length = start; // no series has a measurement yet
        }
    }

    /// <summary>
    /// Runs the exporter (<paramref name="next"/>) into a buffer, uncompressed, and sends its answer with the two
    /// families added (before OpenMetrics' <c># EOF</c>), compressed with gzip when the scraper accepts it.
    /// </summary>
    public async Task ServeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var gzip = AcceptsGzip(request.Headers.AcceptEncoding);
        request.Headers.Remove(HeaderNames.AcceptEncoding);
        var response = context.Response;
        var body = response.Body;
        using var buffer = new MemoryStream();
        response.Body = buffer;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            response.Body = body;
        }

        var exported = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        byte[] added = [];
        var end = exported.Length;
        if (response.StatusCode == StatusCodes.Status200OK)
        {
            var openMetrics = response.ContentType?.StartsWith("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true;
            if (openMetrics && exported.Span.EndsWith(OpenMetricsEnd))
            {
                end -= OpenMetricsEnd.Length;
            }

            var text = new StringBuilder();
            Write(text, openMetrics);
            added = Encoding.UTF8.GetBytes(text.ToString());
        }

        if (!response.Headers.Vary.Contains(HeaderNames.AcceptEncoding))
        {
            response.Headers.Append(HeaderNames.Vary, HeaderNames.AcceptEncoding);
        }
        if (!gzip)
        {
            await WriteAllAsync(body, exported, end, added, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        response.Headers.ContentEncoding = "gzip";
        var compressed = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true);
        await using (compressed.ConfigureAwait(false))
        {
            await WriteAllAsync(compressed, exported, end, added, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static async Task WriteAllAsync(Stream output, ReadOnlyMemory<byte> exported, int end, byte[] added, CancellationToken cancellationToken)
    {
        await output.WriteAsync(exported[..end], cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(added, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(exported[end..], cancellationToken).ConfigureAwait(false);
    }

    private static bool AcceptsGzip(Microsoft.Extensions.Primitives.StringValues acceptEncoding)
    {
        foreach (var value in acceptEncoding)
        {
            if (value is not null && StringWithQualityHeaderValue.TryParseList([value], out var codings))
            {
                foreach (var coding in codings)
                {
                    if (coding.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) && coding.Quality is not 0)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }
}
