using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>
/// OpenTelemetry tracing of the gateway hop: the real gateway with an in-memory exporter (added as a span processor
/// through the services seam) in front of a real backend that records the <c>traceparent</c> it receives.
/// </summary>
public sealed class TracingTests
{
    [Fact]
    public async Task UpstreamReceivesTraceparentOfTheExportedGatewaySpan()
    {
        var received = new ConcurrentQueue<string?>();
        await using var backend = await TestBackend.StartAsync(Recording(received));
        var spans = new List<Activity>();
        await using var gw = await StartTracedAsync(backend, spans, "samplingRatio: 1");

        using (var response = await gw.Client.GetAsync(gw.Combine("/orders/42")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var span = await SingleSpanAsync(spans);
        Assert.True(received.TryDequeue(out var traceparent));
        var upstream = Parse(traceparent);
        Assert.Equal(span.TraceId, upstream.TraceId);
        Assert.Equal(span.SpanId, upstream.SpanId); // the upstream's parent is our span
        Assert.True(upstream.TraceFlags.HasFlag(ActivityTraceFlags.Recorded));
        Assert.Equal(default, span.ParentSpanId);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal("Turnpike", span.Source.Name);
        Assert.Equal("GET all", span.DisplayName);
        Assert.Equal("all", span.GetTagItem("turnpike.route"));
        Assert.Equal("c", span.GetTagItem("turnpike.cluster"));
        Assert.Equal("d", span.GetTagItem("turnpike.destination"));
        Assert.Equal(200, span.GetTagItem("http.response.status_code"));
        Assert.Equal("GET", span.GetTagItem("http.request.method"));
        Assert.Equal("/orders/42", span.GetTagItem("url.path"));
    }

    [Fact]
    public async Task IncomingTraceparentIsTheParentAndTheUpstreamSeesTheGatewaySpan()
    {
        var received = new ConcurrentQueue<string?>();
        await using var backend = await TestBackend.StartAsync(Recording(received));
        var spans = new List<Activity>();
        // Ratio 0: new traces are not sampled, but a sampled parent is followed.
        await using var gw = await StartTracedAsync(backend, spans, "samplingRatio: 0");

        var clientTrace = ActivityTraceId.CreateRandom();
        var clientSpan = ActivitySpanId.CreateRandom();
        using (var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/x")))
        {
            request.Headers.Add("traceparent", $"00-{clientTrace}-{clientSpan}-01");
            request.Headers.Add("tracestate", "vendor=abc");
            using var response = await gw.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var span = await SingleSpanAsync(spans);
        Assert.Equal(clientTrace, span.TraceId);
        Assert.Equal(clientSpan, span.ParentSpanId);
        Assert.True(received.TryDequeue(out var traceparent));
        var upstream = Parse(traceparent);
        Assert.Equal(clientTrace, upstream.TraceId);
        Assert.Equal(span.SpanId, upstream.SpanId);
        Assert.NotEqual(clientSpan, upstream.SpanId);
    }

    [Fact]
    public async Task UnsampledRequestsExportNothingButStillPropagateTheTrace()
    {
        var received = new ConcurrentQueue<string?>();
        await using var backend = await TestBackend.StartAsync(Recording(received));
        var spans = new List<Activity>();
        await using var gw = await StartTracedAsync(backend, spans, "samplingRatio: 0");

        for (var i = 0; i < 5; i++)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/x"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // A sampled request after them: once its span is exported, the unsampled ones (which finished earlier) would be too.
        using (var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/sampled")))
        {
            request.Headers.Add("traceparent", $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01");
            using var response = await gw.Client.SendAsync(request);
        }

        var span = await SingleSpanAsync(spans);
        Assert.Equal("/sampled", span.GetTagItem("url.path"));
        Assert.Equal(6, received.Count);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(received.TryDequeue(out var traceparent));
            Assert.False(Parse(traceparent).TraceFlags.HasFlag(ActivityTraceFlags.Recorded));
        }
    }

    [Fact]
    public async Task AccessLogLineCarriesTheSpansTraceId()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var spans = new List<Activity>();
        var logPath = Path.Combine(Path.GetTempPath(), $"turnpike-trace-access-{Guid.NewGuid():N}.log");
        try
        {
            await using (var gw = await GatewayHost.StartAsync(
                Configs.CatchAll(backend.Address, top: $"tracing:\n  enabled: true\nlogging:\n  accessLog: {{ path: {logPath} }}"),
                services => services.AddSingleton<BaseProcessor<Activity>>(new SimpleActivityExportProcessor(new InMemoryExporter<Activity>(spans)))))
            {
                using var response = await gw.Client.GetAsync(gw.Combine("/x"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await SingleSpanAsync(spans);
            }

            var line = Assert.Single(await File.ReadAllLinesAsync(logPath));
            using var json = System.Text.Json.JsonDocument.Parse(line);
            Assert.Equal(spans[0].TraceId.ToHexString(), json.RootElement.GetProperty("trace_id").GetString());
        }
        finally
        {
            File.Delete(logPath);
        }
    }

    [Fact]
    public async Task GatewayErrorsAreSpansWithErrorStatus()
    {
        var (port, hold) = Configs.RefusingPort();
        using var _ = hold;
        var spans = new List<Activity>();
        await using var gw = await GatewayHost.StartAsync(
            Configs.CatchAll($"http://127.0.0.1:{port}", top: "tracing:\n  enabled: true"),
            services => services.AddSingleton<BaseProcessor<Activity>>(new SimpleActivityExportProcessor(new InMemoryExporter<Activity>(spans))));
        using (var response = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        }

        var span = await SingleSpanAsync(spans);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("connection_refused", span.GetTagItem("error.type"));
        Assert.Equal(502, span.GetTagItem("http.response.status_code"));
    }

    [Fact]
    public async Task OtlpHttpExporterFromTheYamlPostsSpansToTheCollector()
    {
        var posts = new ConcurrentQueue<(string Path, string? ContentType, long Length)>();
        await using var collector = await TestBackend.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            posts.Enqueue((context.Request.Path.Value!, context.Request.ContentType, body.Length));
            context.Response.ContentType = "application/x-protobuf";
        });
        await using var backend = await TestBackend.StartEchoAsync();
        var gw = await GatewayHost.StartAsync(Configs.CatchAll(
            backend.Address,
            top: $"tracing:\n  serviceName: edge-test\n  otlp: {{ endpoint: \"{collector.Address}\", protocol: http, timeout: 5s }}"));
        await using (gw)
        {
            using var response = await gw.Client.GetAsync(gw.Combine("/x"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Stopping the gateway flushes the batch exporter.
        var (path, contentType, length) = Assert.Single(posts);
        Assert.Equal("/v1/traces", path);
        Assert.Equal("application/x-protobuf", contentType);
        Assert.True(length > 100, $"{length} bytes");
    }

    [Fact]
    public async Task WithTracingOffNoTraceparentIsAddedAndTheClientsGoesThroughUnchanged()
    {
        var received = new ConcurrentQueue<string?>();
        await using var backend = await TestBackend.StartAsync(Recording(received));
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));
        using (var response = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.True(received.TryDequeue(out var none));
        Assert.Null(none);

        var clientHeader = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01";
        using (var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/x")))
        {
            request.Headers.Add("traceparent", clientHeader);
            using var response = await gw.Client.SendAsync(request);
        }

        Assert.True(received.TryDequeue(out var passed));
        Assert.Equal(clientHeader, passed);
    }

    private static RequestDelegate Recording(ConcurrentQueue<string?> received) => context =>
    {
        received.Enqueue(context.Request.Headers.TryGetValue("traceparent", out var value) ? value.ToString() : null);
        return context.Response.WriteAsync("ok");
    };

    private static Task<GatewayHost> StartTracedAsync(TestBackend backend, List<Activity> spans, string settings) =>
        GatewayHost.StartAsync(
            Configs.CatchAll(backend.Address, top: $"tracing:\n  enabled: true\n  {settings}"),
            services => services.AddSingleton<BaseProcessor<Activity>>(new SimpleActivityExportProcessor(new InMemoryExporter<Activity>(spans))));

    /// <summary>The span is exported when it ends, just after the response was sent: wait for it (bounded).</summary>
    private static async Task<Activity> SingleSpanAsync(List<Activity> spans)
    {
        for (var i = 0; i < 100; i++)
        {
            lock (spans)
            {
                if (spans.Count > 0)
                {
                    return Assert.Single(spans);
                }
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException("no span exported within 5 s");
    }

    private static ActivityContext Parse(string? traceparent)
    {
        Assert.NotNull(traceparent);
        Assert.True(ActivityContext.TryParse(traceparent, null, out var context), traceparent);
        return context;
    }
}
