using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.Tests.Configuration;

public sealed class ConnectionLimitsConfigTests
{
    private static ConfigLoadResult Read(string yaml) => YamlConfigReader.Read(yaml, "c.yaml");

    private static GatewayConfig ReadValid(string yaml)
    {
        var result = Read(yaml);
        Assert.Empty(result.Errors);
        return result.Config!;
    }

    [Fact]
    public void NoLimitsByDefault()
    {
        var config = ReadValid("listeners: { l: { port: 0 } }\n");
        Assert.Null(config.Server.ConnectionLimits);
        Assert.Null(config.Listeners[0].ConnectionLimits);
    }

    [Fact]
    public void ReadsEveryKey()
    {
        var config = ReadValid("""
            listeners:
              game:
                port: 0
                connectionLimits:
                  perIp: 10
                  newPerIpPerSecond: 5
                  burst: 8
                  total: 5000
                  exempt: [127.0.0.1, 10.0.0.0/8, "fd00::/8"]
                  maxTrackedIps: 2000
            """);
        Assert.Equal(new ConnectionLimitsConfig
        {
            PerIp = 10, NewPerIpPerSecond = 5, Burst = 8, Total = 5000, MaxTrackedIps = 2000,
            Exempt = ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"],
        }, config.Listeners[0].ConnectionLimits);
        Assert.Equal(8, config.Listeners[0].ConnectionLimits!.EffectiveBurst);
    }

    [Fact]
    public void DefaultsOfAnEmptyBlock()
    {
        var limits = ReadValid("listeners: { l: { port: 0, connectionLimits: {} } }\n").Listeners[0].ConnectionLimits!;
        Assert.Equal(new ConnectionLimitsConfig(), limits);
        Assert.Equal((0, 0.0, 0, 0, 100_000), (limits.PerIp, limits.NewPerIpPerSecond, limits.Burst, limits.Total, limits.MaxTrackedIps));
        Assert.False(limits.TracksIps);
    }

    [Theory]
    [InlineData(5, 5)]
    [InlineData(0.5, 1)]
    [InlineData(2.5, 3)]
    public void BurstDefaultsToOneSecondsWorth(double rate, int burst) =>
        Assert.Equal(burst, new ConnectionLimitsConfig { NewPerIpPerSecond = rate }.EffectiveBurst);

    [Fact]
    public void ListenersInheritTheServerDefaultKeyByKey()
    {
        var config = ReadValid("""
            server:
              connectionLimits: { perIp: 10, newPerIpPerSecond: 5, exempt: [10.0.0.0/8] }
            listeners:
              a: { port: 0 }
              b: { port: 0, connectionLimits: { perIp: 50, total: 100 } }
              c: { port: 0, connectionLimits: { perIp: 0, newPerIpPerSecond: 0, exempt: [] } }
            """);
        Assert.Equal(new ConnectionLimitsConfig { PerIp = 10, NewPerIpPerSecond = 5, Exempt = ["10.0.0.0/8"] }, config.Server.ConnectionLimits);
        Assert.Equal(config.Server.ConnectionLimits, config.Listeners[0].ConnectionLimits);
        Assert.Equal(new ConnectionLimitsConfig { PerIp = 50, NewPerIpPerSecond = 5, Total = 100, Exempt = ["10.0.0.0/8"] }, config.Listeners[1].ConnectionLimits);
        Assert.Equal(new ConnectionLimitsConfig(), config.Listeners[2].ConnectionLimits);
    }

    [Fact]
    public void EqualByValueSoAnUnchangedReloadIsNotARestartOnlyChange()
    {
        const string yaml = "server: { connectionLimits: { exempt: [10.0.0.0/8] } }\nlisteners: { l: { port: 1, connectionLimits: { perIp: 3, exempt: [127.0.0.1] } } }\n";
        var a = ReadValid(yaml);
        var b = ReadValid("\n" + yaml);
        Assert.Empty(GatewayState.RestartOnlyChanges(a, b));
        Assert.Equal(["listeners", "server"], GatewayState.RestartOnlyChanges(a, ReadValid(yaml.Replace("10.0.0.0/8", "10.0.0.0/16", StringComparison.Ordinal).Replace("perIp: 3", "perIp: 4", StringComparison.Ordinal))));
    }

    [Theory]
    [InlineData("perIp: -1", "perIp", "-1 is out of range [0, 10000000]")]
    [InlineData("perIp: ten", "perIp", "'ten' is not an integer")]
    [InlineData("total: 10000001", "total", "out of range [0, 10000000]")]
    [InlineData("newPerIpPerSecond: -5", "newPerIpPerSecond", "not a number in [0, 1000000]")]
    [InlineData("newPerIpPerSecond: 5/s", "newPerIpPerSecond", "'5/s' is not a number")]
    [InlineData("newPerIpPerSecond: 0.0001", "newPerIpPerSecond", "too small")]
    [InlineData("burst: 5", "burst", "only applies together with newPerIpPerSecond")]
    [InlineData("newPerIpPerSecond: 5, burst: 0", "burst", "0 is out of range [1, 1000000]")]
    [InlineData("maxTrackedIps: 0", "maxTrackedIps", "out of range [1, 10000000]")]
    [InlineData("exempt: [10.0.0.1/8]", "exempt", "'10.0.0.1/8' is not an IP address or CIDR block (examples: 10.0.0.5, 10.0.0.0/8, fd00::/8); did you mean '10.0.0.0/8'?")]
    [InlineData("exempt: [10.0.0.0/33]", "exempt", "'10.0.0.0/33' is not an IP address or CIDR block")]
    [InlineData("exempt: [localhost]", "exempt", "'localhost' is not an IP address or CIDR block")]
    [InlineData("exempt: [10.1]", "exempt", "'10.1' is not an IP address")]
    [InlineData("exempt: ['fd00::1/8']", "exempt", "did you mean 'fd00::/8'?")]
    [InlineData("exempt: { a: 1 }", "exempt", "must be a string or a list of strings")]
    [InlineData("perIP: 10", "perIP", "unknown key 'perIP'; did you mean 'perIp'?")]
    [InlineData("ratePerIp: 10", "ratePerIp", "unknown key 'ratePerIp'")]
    [InlineData("newPerIpPerSec: 5", "newPerIpPerSec", "did you mean 'newPerIpPerSecond'?")]
    public void ReportsMistakesWithFieldAndPosition(string body, string key, string message)
    {
        var result = Read($"listeners:\n  game:\n    port: 0\n    connectionLimits: {{ {body} }}\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal($"listeners.game.connectionLimits.{key}", error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(("c.yaml", 4), (error.File, error.Line));
        Assert.True(error.Column > 22, error.ToString());
    }

    [Fact]
    public void ReportsServerDefaultMistakesOnce()
    {
        // A mistake in the default is reported where it is written, not again for every listener that inherits it.
        var result = Read("server:\n  connectionLimits:\n    perIp: -1\nlisteners: { a: { port: 0 }, b: { port: 0 } }\n");
        var error = Assert.Single(result.Errors);
        Assert.Equal(("server.connectionLimits.perIp", 3, 12), (error.Field, error.Line, error.Column));
    }

    [Theory]
    [InlineData("server:\n  conectionLimits: {}\nlisteners: { l: { port: 0 } }\n", "server.conectionLimits", "did you mean 'connectionLimits'?")]
    [InlineData("listeners: { l: { port: 0, connectionLimit: {} } }\n", "listeners.l.connectionLimit", "did you mean 'connectionLimits'?")]
    [InlineData("listeners: { l: { port: 0, connectionLimits: 10 } }\n", "listeners.l.connectionLimits", "must be a mapping")]
    public void ReportsMisplacedSections(string yaml, string field, string message)
    {
        var error = Assert.Single(Read(yaml).Errors);
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
