using System.Net;
using System.Text.Json;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Hot reload: valid changes apply atomically under load; invalid ones are rejected and the old config kept.</summary>
public sealed class ReloadTests
{
    private static string Config(string backend, int generation) => $$"""
        routes:
          all:
            match: { path: "/{**rest}" }
            cluster: c
            transforms:
              - responseHeader: x-config-generation
                set: "{{generation}}"
        clusters:
          c:
            destinations:
              d: {{backend}}
        """;

    [Fact]
    public async Task TwentyRewritesUnderSteadyLoadLoseNoRequest()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Config(backend.Address, 0));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var failures = new List<string>();
        var completed = 0;
        var seen = new HashSet<string>();
        var clients = Enumerable.Range(0, 4).Select(async _ =>
        {
            using var client = GatewayHost.CreateClient();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync(gw.Combine("/load"), stop.Token);
                    var body = await response.Content.ReadAsStringAsync(stop.Token);
                    lock (failures)
                    {
                        if (response.StatusCode != HttpStatusCode.OK || !body.Contains("\"backend\"", StringComparison.Ordinal))
                        {
                            failures.Add($"{(int)response.StatusCode}: {body}");
                        }

                        seen.Add(response.Headers.GetValues("x-config-generation").Single());
                        completed++;
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex.Message);
                    }
                }
            }
        }).ToArray();

        bool Seen(string generation)
        {
            lock (failures)
            {
                return seen.Contains(generation);
            }
        }

        for (var generation = 1; generation <= 20; generation++)
        {
            await gw.WriteConfigAsync(Config(backend.Address, generation));
            await WaitForGeneration(gw, generation);
        }

        // The probe saw generation 20; the load clients see it with their next request (bounded wait, no fixed sleep).
        for (var i = 0; i < 200 && !Seen("20"); i++)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);

        Assert.Empty(failures);
        Assert.True(completed > 100, $"only {completed} requests completed");
        Assert.Contains("20", seen);
        Assert.True(seen.Count >= 10, $"saw only generations {string.Join(",", seen)}");
    }

    private static async Task WaitForGeneration(GatewayHost gw, int generation)
    {
        using var client = GatewayHost.CreateClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await client.GetAsync(gw.Combine("/probe"));
            if (response.Headers.TryGetValues("x-config-generation", out var values) && values.Single() == generation.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                return;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"generation {generation} was not applied within 10 s");
    }

    [Fact]
    public async Task InvalidFileChangeKeepsTheRunningConfig()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Config(backend.Address, 1));

        await File.WriteAllTextAsync(gw.ConfigPath, "routes:\n  all:\n    match: { pathPrefx: / }\n    cluster: nowhere\n");
        await Task.Delay(1000); // the watcher debounces and tries to reload

        using var response = await gw.Client.GetAsync(gw.Combine("/still-works"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("x-config-generation").Single());
    }

    [Fact]
    public async Task AdminReloadReturnsErrorsAsJsonAndKeepsTheOldConfig()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Config(backend.Address, 1));
        using var admin = GatewayHost.CreateClient();

        // Rewrite the file without waking the watcher's reload first: the admin call reads the same file.
        await File.WriteAllTextAsync(gw.ConfigPath, GatewayHost.WithDefaults($"routes:\n  all:\n    match: {{ path: \"/{{**rest}}\" }}\n    cluster: c\n    ordr: 1\nclusters:\n  c:\n    destinations:\n      d: {backend.Address}\n"));
        using var bad = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/reload"), null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        using (var json = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()))
        {
            Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
            var error = json.RootElement.GetProperty("errors")[0];
            Assert.Equal("routes.all.ordr", error.GetProperty("field").GetString());
            Assert.True(error.GetProperty("line").GetInt32() > 0);
            Assert.Contains("did you mean 'order'", error.GetProperty("message").GetString());
        }

        using (var response = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            Assert.Equal("1", response.Headers.GetValues("x-config-generation").Single());
        }

        await File.WriteAllTextAsync(gw.ConfigPath, GatewayHost.WithDefaults(Config(backend.Address, 2)));
        using var good = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/reload"), null);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        using (var response = await gw.Client.GetAsync(gw.Combine("/x")))
        {
            Assert.Equal("2", response.Headers.GetValues("x-config-generation").Single());
        }
    }

    [Fact]
    public async Task InFlightRequestFinishesOnTheConfigItStartedWith()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var slow = await TestBackend.StartAsync(async context =>
        {
            arrived.TrySetResult();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await Echo.WriteAsync(context, "slow");
        });
        await using var other = await TestBackend.StartEchoAsync("other");
        await using var gw = await GatewayHost.StartAsync(Config(slow.Address, 1));

        var inFlight = gw.Client.GetAsync(gw.Combine("/long"));
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await File.WriteAllTextAsync(gw.ConfigPath, GatewayHost.WithDefaults(Config(other.Address, 2)));
        using var admin = GatewayHost.CreateClient();
        using (var reload = await admin.PostAsync(new Uri(gw.AdminUrl, "/admin/reload"), null))
        {
            Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        }

        using (var fresh = await gw.Client.GetAsync(gw.Combine("/new")))
        {
            Assert.Equal("other", (await Echo.ReadAsync(fresh)).Backend);
        }

        release.SetResult();
        using var old = await inFlight;
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.Equal("1", old.Headers.GetValues("x-config-generation").Single());
        Assert.Equal("slow", (await Echo.ReadAsync(old)).Backend);
    }
}
