using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>GET /metrics on the admin listener: Prometheus text that counts exactly what the gateway answered.</summary>
public sealed class MetricsTests
{
    /// <summary>Route a → a backend answering 200; route b → a port that refuses (the gateway answers 502).</summary>
    private static string TwoRoutes(string backend, int refusing, string top = "") => $$"""
        {{top}}
        routes:
          a:
            match: { pathPrefix: /a }
            cluster: ca
          b:
            match: { pathPrefix: /b }
            cluster: cb
        clusters:
          ca:
            destinations:
              d1: {{backend}}
          cb:
            destinations:
              down: http://127.0.0.1:{{refusing}}
        """;

    [Fact]
    public async Task CountersAndHistogramCountsMatchTheRequestsSent()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var (refusing, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(TwoRoutes(backend.Address, refusing));

        for (var i = 0; i < 7; i++)
        {
            using var r = await gw.Client.GetAsync(gw.Combine($"/a/item/{i}"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var r = await gw.Client.GetAsync(gw.Combine($"/nowhere/{i}"));
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        }

        for (var i = 0; i < 2; i++)
        {
            using var r = await gw.Client.PostAsync(gw.Combine("/b/x"), new StringContent("body"));
            Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode);
        }

        // A request is counted when the handler returns, which can be just after the client has read the response.
        var metrics = await ScrapeUntilAsync(gw, m => m.Value("turnpike_requests_total", ("route", "b")) >= 2 && m.Value("turnpike_requests_total", ("route", "a")) >= 7
            && m.Value("turnpike_requests_total", ("route", "(none)")) >= 3);

        Assert.Equal(7, metrics.Value("turnpike_requests_total", ("route", "a"), ("cluster", "ca"), ("method", "GET"), ("status_class", "2xx")));
        Assert.Equal(3, metrics.Value("turnpike_requests_total", ("route", "(none)"), ("cluster", "(none)"), ("method", "GET"), ("status_class", "4xx")));
        Assert.Equal(2, metrics.Value("turnpike_requests_total", ("route", "b"), ("cluster", "cb"), ("method", "POST"), ("status_class", "5xx")));
        Assert.Equal(3, metrics.All("turnpike_requests_total").Count()); // nothing else was counted

        Assert.Equal(7, metrics.Value("turnpike_request_duration_seconds_count", ("route", "a"), ("cluster", "ca"), ("status_class", "2xx")));
        Assert.Equal(3, metrics.Value("turnpike_request_duration_seconds_count", ("route", "(none)"), ("cluster", "(none)"), ("status_class", "4xx")));
        Assert.Equal(2, metrics.Value("turnpike_request_duration_seconds_count", ("route", "b"), ("cluster", "cb"), ("status_class", "5xx")));
        Assert.Equal(7, metrics.Value("turnpike_request_duration_seconds_bucket", ("route", "a"), ("status_class", "2xx"), ("le", "+Inf")));
        Assert.True(metrics.Value("turnpike_request_duration_seconds_sum", ("route", "a"), ("status_class", "2xx")) > 0);
        // Sub-millisecond buckets exist.
        Assert.Contains(metrics.All("turnpike_request_duration_seconds_bucket"), s => s.Labels["le"] == "0.0001");
        Assert.Contains(metrics.All("turnpike_request_duration_seconds_bucket"), s => s.Labels["le"] == "0.00025");

        Assert.Equal(0, metrics.Value("turnpike_requests_in_flight"));
        Assert.Equal(7, metrics.Value("turnpike_upstream_requests_total", ("cluster", "ca"), ("destination", "d1"), ("outcome", "success")));
        Assert.Equal(2, metrics.Value("turnpike_upstream_requests_total", ("cluster", "cb"), ("destination", "down"), ("outcome", "connect_failed")));
        Assert.Equal(7, metrics.Value("turnpike_upstream_request_duration_seconds_count", ("cluster", "ca"), ("destination", "d1")));
        Assert.Equal(1, metrics.Value("turnpike_destination_healthy", ("cluster", "ca"), ("destination", "d1")));

        // No client address or path ever becomes a label value.
        Assert.DoesNotContain("/nowhere", metrics.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("/a/item", metrics.Text, StringComparison.Ordinal);
    }

    /// <summary>Kestrel's own connection instruments: pinned to <c>engine: kestrel</c> (the raw listener has none).</summary>
    [Fact]
    [Trait("Listener", "KestrelOnly")]
    public async Task ExportsConnectionAndRuntimeInstrumentsOfThisGatewayOnly()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: "listeners:\n  main: { address: 127.0.0.1, port: 0, engine: kestrel }"));
        await using var other = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));
        using (var r = await other.Client.GetAsync(other.Combine("/x")))
        {
            r.EnsureSuccessStatusCode();
        }

        using (var r = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            r.EnsureSuccessStatusCode();
        }

        var metrics = await ScrapeUntilAsync(gw, m => m.Value("turnpike_requests_total", ("route", "all")) >= 1);
        // Another gateway in the same process has a meter of the same name: its request is not counted here.
        Assert.Equal(1, metrics.Value("turnpike_requests_total", ("route", "all")));
        // Kestrel's connection instruments of the proxy listener (not the admin listener's).
        var ports = metrics.All("kestrel_active_connections").Select(s => s.Labels.GetValueOrDefault("server_port")).ToList();
        Assert.Contains(gw.Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ports);
        Assert.DoesNotContain(gw.AdminUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), ports);
        // .NET runtime: CPU, memory, GC, thread pool.
        Assert.NotEmpty(metrics.All("dotnet_process_cpu_time_seconds_total"));
        Assert.NotEmpty(metrics.All("dotnet_process_memory_working_set_bytes"));
        Assert.NotEmpty(metrics.All("dotnet_gc_heap_total_allocated_bytes_total"));
        Assert.NotEmpty(metrics.All("dotnet_thread_pool_thread_count_total"));
        // Renamed: promtool refuses a gauge ending in "_count".
        Assert.NotEmpty(metrics.All("dotnet_process_cpus"));
    }

    [Fact]
    public async Task CountsTheListenersWireBytesExactly()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address));
        long sent = 0, received = 0;
        foreach (var path in new[] { "/one", "/two/longer/path?q=1" })
        {
            var request = System.Text.Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(gw.Url.Host, gw.Url.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(request);
            sent += request.Length;
            using var response = new MemoryStream();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await stream.CopyToAsync(response, timeout.Token); // to EOF: the gateway closes after the answer
            Assert.StartsWith("HTTP/1.1 200", System.Text.Encoding.ASCII.GetString(response.ToArray()), StringComparison.Ordinal);
            received += response.Length;
        }

        var metrics = await ScrapeUntilAsync(gw, m => m.Value("turnpike_requests_total", ("route", "all")) >= 2);
        Assert.Equal(sent, metrics.Value("turnpike_listener_io_bytes_total", ("listener", "main"), ("direction", "received")));
        Assert.Equal(received, metrics.Value("turnpike_listener_io_bytes_total", ("listener", "main"), ("direction", "sent")));
    }

    [Fact]
    public async Task FollowsTheAdminTokenAndCanBeTurnedOff()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using (var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: "admin:\n  address: 127.0.0.1\n  port: 0\n  token: s3cret\nmetrics:\n  path: /prom")))
        {
            using var anonymous = await gw.Client.GetAsync(new Uri(gw.AdminUrl, "/prom"));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gw.AdminUrl, "/prom"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
            using var authorized = await gw.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, authorized.StatusCode);
            Assert.Contains("turnpike_destination_healthy{", await authorized.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            using var old = await gw.Client.GetAsync(new Uri(gw.AdminUrl, "/metrics"));
            Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
        }

        await using (var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: "metrics:\n  enabled: false")))
        {
            using var off = await gw.Client.GetAsync(new Uri(gw.AdminUrl, "/metrics"));
            Assert.Equal(HttpStatusCode.NotFound, off.StatusCode);
        }
    }

    /// <summary><c>promtool check metrics</c> (Debian package prometheus) accepts the scraped text. CI installs promtool;
    /// elsewhere the test is skipped when it is missing.</summary>
    [SkippableFact]
    public async Task PromtoolAcceptsTheScrapedText()
    {
        var promtool = ExternalTool.Require("promtool", "prometheus");

        await using var backend = await TestBackend.StartEchoAsync();
        var (refusing, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(TwoRoutes(backend.Address, refusing, top: """
            rateLimits:
              few:
                algorithm: fixedWindow
                limit: 1
                period: 1h
                key: clientIp
            """).Replace("    cluster: cb", "    cluster: cb\n    rateLimit: few", StringComparison.Ordinal));
        foreach (var path in new[] { "/a/1", "/b/1", "/b/2", "/none" })
        {
            using var r = await gw.Client.GetAsync(gw.Combine(path));
        }

        var metrics = await ScrapeUntilAsync(gw, m => m.All("turnpike_requests_total").Sum(s => s.Value) >= 4);
        Assert.Equal(1, metrics.Value("turnpike_rate_limit_rejected_total", ("policy", "few"), ("route", "b")));

        var start = new ProcessStartInfo(promtool!, "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(metrics.Text);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"promtool check metrics exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
    }

    /// <summary>The duration histograms are kept by the gateway and written into the exporter's answer: they must come
    /// out in every form a scraper may ask for (text, OpenMetrics, gzip) with the exporter's shape.</summary>
    [Fact]
    public async Task DurationHistogramsJoinEveryFormOfTheScrape()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var (refusing, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(TwoRoutes(backend.Address, refusing));
        for (var i = 0; i < 3; i++)
        {
            using var r = await gw.Client.GetAsync(gw.Combine($"/a/{i}"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        await ScrapeUntilAsync(gw, m => m.Value("turnpike_request_duration_seconds_count", ("route", "a")) >= 3);
        var url = new Uri(gw.AdminUrl, "/metrics");

        // OpenMetrics: UNIT line, float bounds, no blank line, "# EOF" last and once.
        using var openMetricsRequest = new HttpRequestMessage(HttpMethod.Get, url);
        openMetricsRequest.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        using var openMetricsResponse = await gw.Client.SendAsync(openMetricsRequest);
        openMetricsResponse.EnsureSuccessStatusCode();
        Assert.StartsWith("application/openmetrics-text", openMetricsResponse.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        var openMetrics = await openMetricsResponse.Content.ReadAsStringAsync();
        Assert.EndsWith("\n# EOF\n", openMetrics, StringComparison.Ordinal);
        Assert.Equal(openMetrics.Length - 6, openMetrics.IndexOf("# EOF", StringComparison.Ordinal));
        Assert.DoesNotContain("\n\n", openMetrics, StringComparison.Ordinal);
        Assert.Contains("# UNIT turnpike_request_duration_seconds seconds\n", openMetrics, StringComparison.Ordinal);
        Assert.Contains("turnpike_upstream_request_duration_seconds_bucket{otel_scope_name=\"Turnpike\",cluster=\"ca\",destination=\"d1\",le=\"10.0\"} 3\n", openMetrics, StringComparison.Ordinal);
        var parsed = PrometheusText.Parse(openMetrics);
        Assert.Equal(3, parsed.Value("turnpike_request_duration_seconds_bucket", ("route", "a"), ("cluster", "ca"), ("status_class", "2xx"), ("le", "+Inf")));
        Assert.Single(parsed.All("turnpike_request_duration_seconds_count")); // exactly one series: not also OpenTelemetry's

        // Text format, gzip-compressed when asked.
        using var gzipRequest = new HttpRequestMessage(HttpMethod.Get, url);
        gzipRequest.Headers.AcceptEncoding.ParseAdd("gzip");
        using var gzipResponse = await gw.Client.SendAsync(gzipRequest);
        gzipResponse.EnsureSuccessStatusCode();
        Assert.Equal("gzip", Assert.Single(gzipResponse.Content.Headers.ContentEncoding));
        await using var unzipped = new System.IO.Compression.GZipStream(await gzipResponse.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress);
        var text = await new StreamReader(unzipped).ReadToEndAsync();
        var samples = PrometheusText.Parse(text);
        Assert.Equal(3, samples.Value("turnpike_request_duration_seconds_count", ("route", "a"), ("cluster", "ca"), ("status_class", "2xx")));
        Assert.Equal(3, samples.Value("turnpike_upstream_request_duration_seconds_count", ("cluster", "ca"), ("destination", "d1")));
        Assert.Contains("turnpike_requests_total", text, StringComparison.Ordinal); // the exporter's own families are all there
        Assert.DoesNotContain("# UNIT", text, StringComparison.Ordinal);
    }

    private static async Task<PrometheusText> ScrapeUntilAsync(GatewayHost gw, Func<PrometheusText, bool> done)
    {
        var url = new Uri(gw.AdminUrl, "/metrics");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var metrics = await PrometheusText.ScrapeAsync(gw.Client, url);
            if (done(metrics) || DateTime.UtcNow > deadline)
            {
                return metrics;
            }

            await Task.Delay(50);
        }
    }
}
