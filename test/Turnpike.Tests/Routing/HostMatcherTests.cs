using Turnpike.Routing;

namespace Turnpike.Tests.Routing;

public sealed class HostMatcherTests
{
    [Theory]
    [InlineData("example.com", "example.com", null, true)]
    [InlineData("example.com", "EXAMPLE.com", 8080, true)]
    [InlineData("example.com", "www.example.com", null, false)]
    [InlineData("*.example.com", "www.example.com", null, true)]
    [InlineData("*.example.com", "a.b.example.com", null, true)]
    [InlineData("*.example.com", "example.com", null, false)]
    [InlineData("*.example.com", "badexample.com", null, false)]
    [InlineData("example.com:8080", "example.com", 8080, true)]
    [InlineData("example.com:8080", "example.com", 9090, false)]
    public void Matches(string pattern, string host, int? port, bool expected) =>
        Assert.Equal(expected, new HostMatcher([pattern]).IsMatch(host, port));

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("*.example.com", true)]
    [InlineData("example.com:443", true)]
    [InlineData("example.com:0", false)]
    [InlineData("exa mple.com", false)]
    [InlineData("*", false)]
    public void ValidatesPatterns(string pattern, bool valid) => Assert.Equal(valid, HostMatcher.IsValidPattern(pattern));
}
