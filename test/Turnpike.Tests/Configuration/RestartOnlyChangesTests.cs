using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.Tests.Configuration;

public sealed class RestartOnlyChangesTests
{
    private static GatewayConfig Read(string yaml)
    {
        var result = YamlConfigReader.Read(yaml, "r.yaml");
        Assert.Empty(result.Errors);
        return result.Config!;
    }

    [Fact]
    public void RoutesAndClustersAreNotRestartOnly()
    {
        var a = Read("listeners: { l: { port: 1 } }\nroutes: { r: { match: { pathPrefix: /a }, cluster: c } }\nclusters: { c: { destinations: { d: 'http://x:1' } } }\n");
        var b = Read("\n\nlisteners: { l: { port: 1 } }\nroutes: { r: { match: { pathPrefix: /b }, cluster: c } }\nclusters: { c: { destinations: { d: 'http://y:1' } } }\n");
        Assert.Empty(GatewayState.RestartOnlyChanges(a, b));
    }

    [Fact]
    public void NamesEachRestartOnlySectionThatChanged()
    {
        var a = Read("listeners: { l: { port: 1 } }\n");
        var b = Read("listeners: { l: { port: 2 } }\nadmin: { port: 9 }\nserver: { drainTimeout: 1s }\nlogging: { level: debug }\ndemo: { port: 7 }\n");
        Assert.Equal(["listeners", "admin", "server", "logging", "demo"], GatewayState.RestartOnlyChanges(a, b));
    }

    [Fact]
    public void TracingIsRestartOnly()
    {
        var a = Read("listeners: { l: { port: 1 } }\n");
        var b = Read("listeners: { l: { port: 1 } }\ntracing: { samplingRatio: 0.5 }\n");
        Assert.Equal(["tracing"], GatewayState.RestartOnlyChanges(a, b));
    }
}
