using System.Net;
using System.Net.Sockets;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Graceful shutdown of the real executable: SIGTERM drains in-flight requests, then the process exits 0.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task SigtermLetsTwentyInFlightRequestsFinish()
    {
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref arrived) == 20)
            {
                allArrived.TrySetResult();
            }

            // Slow enough that SIGTERM surely lands while all 20 are in flight.
            await Task.Delay(TimeSpan.FromSeconds(2));
            await Echo.WriteAsync(context, "slow");
        });

        var port = Configs.FreePort();
        var directory = Directory.CreateTempSubdirectory("turnpike-shutdown-").FullName;
        var config = Path.Combine(directory, "turnpike.yaml");
        await File.WriteAllTextAsync(config, $$"""
            server:
              drainTimeout: 20s
            listeners:
              main: { address: 127.0.0.1, port: {{port}}, protocols: http1 }
            admin: { enabled: false }
            routes:
              all:
                match: { path: "/{**rest}" }
                cluster: c
            clusters:
              c:
                destinations:
                  d: {{backend.Address}}
            """);

        await using var turnpike = TurnpikeProcess.Start("run", "--config", config);
        await turnpike.WaitForOutputAsync("Turnpike is running", TimeSpan.FromSeconds(30));

        using var client = GatewayHost.CreateClient();
        var requests = Enumerable.Range(0, 20)
            .Select(i => client.GetAsync(new Uri($"http://127.0.0.1:{port}/slow/{i}")))
            .ToArray();
        await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(20));

        turnpike.SendSigterm();

        var responses = await Task.WhenAll(requests);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses)
        {
            Assert.Equal("slow", (await Echo.ReadAsync(r)).Backend);
            r.Dispose();
        }

        Assert.Equal(0, await turnpike.WaitForExitAsync(TimeSpan.FromSeconds(20)));

        // And it really stopped listening.
        using var probe = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task InvalidConfigFailsToStartWithEveryErrorAndExitCode1()
    {
        var directory = Directory.CreateTempSubdirectory("turnpike-invalid-").FullName;
        var config = Path.Combine(directory, "bad.yaml");
        await File.WriteAllTextAsync(config, "listeners:\n  main: { port: 0, protocol: http2 }\nroutes:\n  r:\n    match: { pathPrefix: /a }\n    cluster: missing\n");
        await using var turnpike = TurnpikeProcess.Start("run", "--config", config);
        Assert.Equal(1, await turnpike.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("bad.yaml:2:20: listeners.main.protocol: unknown key 'protocol'; did you mean 'protocols'?", turnpike.Output);
        Assert.Contains("bad.yaml:6:14: routes.r.cluster: cluster 'missing' is not defined", turnpike.Output);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ValidateReportsAllMistakesWithLineAndColumn()
    {
        var directory = Directory.CreateTempSubdirectory("turnpike-validate-").FullName;
        var bad = Path.Combine(directory, "three.yaml");
        await File.WriteAllTextAsync(bad, """
            listeners:
              main:
                port: 8080
                adress: 0.0.0.0
            routes:
              api:
                match: { pathPrefix: /api }
                cluster: backend
            clusters:
              backend:
                destinations:
                  d1: { address: "http://127.0.0.1:9000", weight: heavy }
                http:
                  connectTimeout: 5 parsecs
            """);
        var good = Path.Combine(directory, "good.yaml");
        await File.WriteAllTextAsync(good, "listeners: { l: { port: 0 } }\nroutes:\n  r: { match: { pathPrefix: /a }, cluster: c }\nclusters:\n  c: { destinations: { d: 'http://127.0.0.1:1' } }\n");

        await using (var ok = TurnpikeProcess.Start("validate", good))
        {
            Assert.Equal(0, await ok.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("valid", ok.Output);
        }

        await using var turnpike = TurnpikeProcess.Start("validate", bad);
        Assert.Equal(1, await turnpike.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var output = turnpike.Output;
        Assert.Contains("3 error(s)", output);
        Assert.Contains("three.yaml:4:5: listeners.main.adress: unknown key 'adress'; did you mean 'address'?", output);
        Assert.Contains("three.yaml:12:55: clusters.backend.destinations.d1.weight: 'heavy' is not an integer", output);
        Assert.Contains("three.yaml:14:23: clusters.backend.http.connectTimeout: '5 parsecs' is not a valid duration", output);
        Directory.Delete(directory, recursive: true);
    }
}
