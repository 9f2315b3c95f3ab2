using System.Net;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.RateLimiting;

namespace Turnpike.Tests.RateLimiting;

public sealed class PartitionKeyTests
{
    private static string Key(RateLimitPolicyConfig config, string peer, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(peer);
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        Span<char> buffer = stackalloc char[PartitionKeyExtractor.BufferSize];
        return new string(PartitionKeyExtractor.Create(config).Extract(context, null!, buffer));
    }

    private static RateLimitPolicyConfig ClientIp(params string[] trusted) => new() { Name = "p", Limit = 1, TrustedProxies = trusted };

    [Theory]
    [InlineData("192.0.2.7", "", "192.0.2.7")] // no header: the peer
    [InlineData("192.0.2.7", "203.0.113.1", "192.0.2.7")] // untrusted peer: the header is ignored
    [InlineData("10.1.1.1", "203.0.113.1", "203.0.113.1")]
    [InlineData("10.1.1.1", "198.51.100.1, 203.0.113.1", "203.0.113.1")] // right-most untrusted hop
    [InlineData("10.1.1.1", "198.51.100.1, 203.0.113.1, 10.2.2.2, 10.3.3.3", "203.0.113.1")] // trusted hops skipped
    [InlineData("10.1.1.1", "10.2.2.2, 10.3.3.3", "10.2.2.2")] // all trusted: the left-most
    [InlineData("10.1.1.1", "unknown, 203.0.113.1", "203.0.113.1")]
    [InlineData("10.1.1.1", "203.0.113.1, garbage", "garbage")] // not an address: nothing to its left is believed
    [InlineData("::ffff:10.1.1.1", "2001:db8::1", "2001:db8::1")] // mapped IPv4 peer matches an IPv4 range
    [InlineData("::ffff:192.0.2.7", "", "192.0.2.7")]
    public void ClientIpBelievesForwardedForOnlyFromTrustedProxies(string peer, string forwardedFor, string expected)
    {
        var headers = forwardedFor.Length == 0 ? [] : new[] { ("X-Forwarded-For", forwardedFor) };
        Assert.Equal(expected, Key(ClientIp("10.0.0.0/8"), peer, headers));
    }

    [Fact]
    public void SeveralForwardedForLinesAreReadAsOneList()
    {
        Assert.Equal("203.0.113.9", Key(ClientIp("10.0.0.0/8"), "10.0.0.1", ("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.9, 10.0.0.2")));
    }

    [Fact]
    public void HeaderKeysAreBoundedAndMissingOnesShareTheEmptyPartition()
    {
        var config = new RateLimitPolicyConfig { Name = "p", Limit = 1, Key = new RateLimitKeyConfig { Source = RateLimitKeySource.ApiKey, Name = "x-api-key" } };
        Assert.Equal("abc", Key(config, "192.0.2.1", ("x-api-key", " abc ")));
        Assert.Equal(string.Empty, Key(config, "192.0.2.1"));
        var huge = Key(config, "192.0.2.1", ("x-api-key", new string('k', 10_000)));
        Assert.Equal(17, huge.Length);
        Assert.StartsWith("#", huge);
        Assert.NotEqual(huge, Key(config, "192.0.2.1", ("x-api-key", new string('k', 9_999) + "j")));
    }
}
