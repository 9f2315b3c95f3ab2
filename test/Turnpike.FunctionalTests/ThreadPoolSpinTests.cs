using Turnpike.Cli;
using Turnpike.Configuration;

namespace Turnpike.FunctionalTests;

/// <summary><see cref="ThreadPoolSpin"/>: spinning goes off only when no request runs on the thread pool.</summary>
public sealed class ThreadPoolSpinTests
{
    [Theory]
    [InlineData(ListenerEngine.Raw, UpstreamEngine.Raw, true)]
    [InlineData(ListenerEngine.Raw, UpstreamEngine.Yarp, false)]
    [InlineData(ListenerEngine.Kestrel, UpstreamEngine.Raw, false)]
    public void OnlyRawListenersWithRawClustersKeepRequestsOffThePool(ListenerEngine listener, UpstreamEngine upstream, bool off)
    {
        var config = Config([listener], [upstream]);
        Assert.Equal(off, ThreadPoolSpin.DataPlaneOffThePool(config));
    }

    [Fact]
    public void OneKestrelListenerOrOneYarpClusterAmongRawOnesKeepsSpinning()
    {
        Assert.False(ThreadPoolSpin.DataPlaneOffThePool(Config([ListenerEngine.Raw, ListenerEngine.Kestrel], [UpstreamEngine.Raw])));
        Assert.False(ThreadPoolSpin.DataPlaneOffThePool(Config([ListenerEngine.Raw], [UpstreamEngine.Raw, UpstreamEngine.Yarp])));
        Assert.True(ThreadPoolSpin.DataPlaneOffThePool(Config([ListenerEngine.Raw, ListenerEngine.Raw], [UpstreamEngine.Raw, UpstreamEngine.Raw])));
    }

    [Fact]
    public void UnsetEnginesAreKestrelAndYarp()
    {
        var config = new GatewayConfig
        {
            Listeners = [new ListenerConfig { Name = "public", Port = 8080 }],
            Clusters = [new ClusterConfig { Id = "backend" }],
        };
        Assert.False(ThreadPoolSpin.DataPlaneOffThePool(config));
    }

    [Fact]
    public void NoListenerOrNoConfigChangesNothing()
    {
        Assert.False(ThreadPoolSpin.DataPlaneOffThePool(Config([], [UpstreamEngine.Raw])));
        Assert.False(ThreadPoolSpin.TurnOffIfUnused(null));
    }

    [Fact]
    public void PeekReadsTheFileAsItIsNowAndGivesNullForAnInvalidOne()
    {
        var path = Path.Combine(Path.GetTempPath(), $"turnpike-spin-{Guid.NewGuid():N}.yaml");
        try
        {
            File.WriteAllText(path, """
                listeners:
                  public: { address: 127.0.0.1, port: 8080, engine: raw }
                routes:
                  all: { match: { pathPrefix: / }, cluster: backend }
                clusters:
                  backend:
                    http: { engine: raw }
                    destinations: { d1: "http://127.0.0.1:8081" }
                """);
            var config = ThreadPoolSpin.Peek(ConfigSource.FromFile(path));
            Assert.NotNull(config);
            Assert.True(ThreadPoolSpin.DataPlaneOffThePool(config));

            File.WriteAllText(path, "listeners:\n  public: { port: not-a-port }\n");
            Assert.Null(ThreadPoolSpin.Peek(ConfigSource.FromFile(path)));
        }
        finally
        {
            File.Delete(path);
        }

        // The embedded default reads too (its listener is Kestrel's).
        var embedded = ThreadPoolSpin.Peek(ConfigSource.Embedded());
        Assert.NotNull(embedded);
        Assert.False(ThreadPoolSpin.DataPlaneOffThePool(embedded));
    }

    private static GatewayConfig Config(ListenerEngine[] listeners, UpstreamEngine[] clusters) => new()
    {
        Listeners = [.. listeners.Select((engine, i) => new ListenerConfig { Name = $"l{i}", Port = 8080 + i, Engine = engine })],
        Clusters = [.. clusters.Select((engine, i) => new ClusterConfig { Id = $"c{i}", Http = new UpstreamHttpConfig { Engine = engine } })],
    };
}
