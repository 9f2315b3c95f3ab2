using System.Net;
using Turnpike.Tools.Bench;
using Turnpike.Tools.Probe;

namespace Turnpike.Tests.Tools;

public class BenchOptionsTests
{
    private static BenchOptions Valid() => new() { Urls = [new Uri("http://127.0.0.1:8080/")], Duration = TimeSpan.FromSeconds(1) };

    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(Valid().Validate());
    }

    [Fact]
    public void A_run_needs_a_bound_and_never_exceeds_an_hour()
    {
        Assert.Contains((Valid() with { Duration = null }).Validate(), e => e.Contains("--duration or --requests", StringComparison.Ordinal));
        Assert.Contains((Valid() with { Duration = TimeSpan.FromHours(2) }).Validate(), e => e.Contains("--duration", StringComparison.Ordinal));
        var byCount = Valid() with { Duration = null, Requests = 10 };
        Assert.Empty(byCount.Validate());
        Assert.Equal(BenchOptions.MaxDuration, byCount.EffectiveDurationLimit);
    }

    [Fact]
    public void Bad_values_are_named()
    {
        var errors = (Valid() with { Connections = 0, Rate = -1, Method = "GE T", Headers = [new("X\r", "v"), new("Y", "a\nb")], Timeout = TimeSpan.Zero }).Validate();
        Assert.Contains(errors, e => e.Contains("--connections", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--rate", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("method", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("header name", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("CR or LF", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--timeout", StringComparison.Ordinal));
    }

    [Fact]
    public void Schemes_match_the_protocol_and_urls_share_one_endpoint()
    {
        Assert.Contains((Valid() with { Urls = [new Uri("https://127.0.0.1/")] }).Validate(), e => e.Contains("use --h2", StringComparison.Ordinal));
        Assert.Empty((Valid() with { Urls = [new Uri("https://127.0.0.1/")], Protocol = BenchProtocol.Http2 }).Validate());
        Assert.Contains((Valid() with { Protocol = BenchProtocol.WebSocket }).Validate(), e => e.Contains("ws or wss", StringComparison.Ordinal));
        Assert.Contains((Valid() with { Urls = [new Uri("http://127.0.0.1:1/a"), new Uri("http://127.0.0.1:2/b")] }).Validate(), e => e.Contains("share scheme, host and port", StringComparison.Ordinal));
        Assert.Empty((Valid() with { Urls = [new Uri("http://127.0.0.1:1/a"), new Uri("http://127.0.0.1:1/b")] }).Validate());
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.200.3.4", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.0.0.1", false)]
    [InlineData("128.0.0.1", false)]
    [InlineData("::2", false)]
    public void Loopback_is_127_slash_8_and_ipv6_one(string address, bool loopback)
    {
        Assert.Equal(loopback, TargetGuard.IsLoopback(IPAddress.Parse(address)));
    }

    [Fact]
    public async Task Remote_targets_are_refused_unless_allowed()
    {
        Assert.Null(await TargetGuard.CheckAsync("127.0.0.1", allowRemote: false));
        Assert.Null(await TargetGuard.CheckAsync("[::1]", allowRemote: false));
        var refusal = await TargetGuard.CheckAsync("192.0.2.10", allowRemote: false);
        Assert.Contains("--allow-remote", refusal, StringComparison.Ordinal);
        Assert.Null(await TargetGuard.CheckAsync("192.0.2.10", allowRemote: true));
    }

    [Fact]
    public async Task The_runner_refuses_a_remote_target_before_sending_anything()
    {
        var runner = new BenchRunner(Valid() with { Urls = [new Uri("http://192.0.2.10:80/")] });
        var ex = await Assert.ThrowsAsync<BenchException>(() => runner.RunAsync());
        Assert.Contains("not a loopback address", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, runner.GetResult().Operations);
    }

    [Theory]
    [InlineData("127.0.0.1:80", "127.0.0.1", 80)]
    [InlineData("localhost:8080", "localhost", 8080)]
    [InlineData("[::1]:443", "::1", 443)]
    [InlineData("http://example.com:81/x", "example.com", 81)]
    public void Probe_targets_parse(string text, string host, int port)
    {
        Assert.Equal((host, port), ProbeOptions.ParseTarget(text));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("localhost:")]
    [InlineData(":80")]
    [InlineData("host:http")]
    public void Bad_probe_targets_do_not_parse(string text)
    {
        Assert.Null(ProbeOptions.ParseTarget(text));
    }

    [Fact]
    public void Headers_parse_from_name_colon_value()
    {
        Assert.Equal(new KeyValuePair<string, string>("Authorization", "Bearer a:b"), BenchOptions.ParseHeader("Authorization: Bearer a:b"));
        Assert.Null(BenchOptions.ParseHeader("no colon"));
    }
}
