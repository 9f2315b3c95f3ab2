using System.Text.Json;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

public sealed class AccessLogTests
{
    [Fact]
    public async Task WritesOneJsonLinePerRequest()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var logPath = Path.Combine(Path.GetTempPath(), $"turnpike-access-{Guid.NewGuid():N}.log");
        try
        {
            await using (var gw = await GatewayHost.StartAsync($$"""
                logging:
                  accessLog:
                    enabled: true
                    path: {{logPath}}
                routes:
                  api:
                    match: { pathPrefix: /api }
                    cluster: c
                clusters:
                  c:
                    destinations:
                      d1: {{backend.Address}}
                """))
            {
                using (var ok = await gw.Client.PostAsync(gw.Combine("/api/items"), new StringContent("0123456789")))
                {
                    ok.EnsureSuccessStatusCode();
                }

                using (await gw.Client.GetAsync(gw.Combine("/nowhere")))
                {
                }
            }

            // Disposing the gateway flushes the log.
            var lines = await File.ReadAllLinesAsync(logPath);
            Assert.Equal(2, lines.Length);

            using var first = JsonDocument.Parse(lines[0]);
            var r = first.RootElement;
            Assert.Equal("api", r.GetProperty("route").GetString());
            Assert.Equal("c", r.GetProperty("cluster").GetString());
            Assert.Equal("d1", r.GetProperty("destination").GetString());
            Assert.Equal(200, r.GetProperty("status").GetInt32());
            Assert.Equal("POST", r.GetProperty("method").GetString());
            Assert.Equal(10, r.GetProperty("bytes_in").GetInt64());
            Assert.True(r.GetProperty("bytes_out").GetInt64() > 50);
            Assert.True(r.GetProperty("duration_ms").GetDouble() >= 0);
            // Time in the upstream attempt: part of the whole request's duration.
            Assert.InRange(r.GetProperty("upstream_ms").GetDouble(), 0, r.GetProperty("duration_ms").GetDouble());
            Assert.Equal("127.0.0.1", r.GetProperty("client").GetString());
            Assert.False(string.IsNullOrEmpty(r.GetProperty("trace_id").GetString()));

            using var second = JsonDocument.Parse(lines[1]);
            Assert.Equal(404, second.RootElement.GetProperty("status").GetInt32());
            Assert.Equal("no_route", second.RootElement.GetProperty("error").GetString());
            Assert.False(second.RootElement.TryGetProperty("upstream_ms", out _)); // no upstream attempt
        }
        finally
        {
            File.Delete(logPath);
        }
    }

    [Fact]
    public async Task SampleRateZeroLogsNothing()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var logPath = Path.Combine(Path.GetTempPath(), $"turnpike-access-{Guid.NewGuid():N}.log");
        try
        {
            await using (var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: $"logging:\n  accessLog: {{ enabled: true, path: {logPath}, sampleRate: 0 }}")))
            {
                for (var i = 0; i < 5; i++)
                {
                    using var response = await gw.Client.GetAsync(gw.Combine("/x"));
                    response.EnsureSuccessStatusCode();
                }
            }

            Assert.False(File.Exists(logPath) && (await File.ReadAllTextAsync(logPath)).Length > 0);
        }
        finally
        {
            File.Delete(logPath);
        }
    }

    /// <summary>
    /// Batched writes still reach the file while the gateway runs: within the flush interval of the first line, and
    /// a line queued during the writer's pause is written at the end of that pause, not only when the gateway stops.
    /// </summary>
    [Fact]
    public async Task LinesAreWrittenWithinTheFlushIntervalWhileRunning()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        var logPath = Path.Combine(Path.GetTempPath(), $"turnpike-access-{Guid.NewGuid():N}.log");
        try
        {
            await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, top: $"logging:\n  accessLog: {{ enabled: true, path: {logPath}, flushInterval: 300ms }}"));
            for (var expected = 1; expected <= 2; expected++)
            {
                using (var response = await gw.Client.GetAsync(gw.Combine($"/line{expected}")))
                {
                    response.EnsureSuccessStatusCode();
                }

                var lines = 0;
                for (var wait = 0; wait < 100 && lines < expected; wait++)
                {
                    await Task.Delay(100);
                    lines = File.Exists(logPath) ? (await ReadSharedAsync(logPath)).Length : 0;
                }

                Assert.Equal(expected, lines);
            }
        }
        finally
        {
            File.Delete(logPath);
        }
    }

    private static async Task<string[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
