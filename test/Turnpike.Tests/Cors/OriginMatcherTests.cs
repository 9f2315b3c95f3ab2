using Turnpike.Cors;

namespace Turnpike.Tests.Cors;

public sealed class OriginMatcherTests
{
    private static OriginMatcher Matcher(params string[] patterns) =>
        new(patterns.Select(p => OriginPattern.TryParse(p, out var pattern, out var error) ? pattern : throw new InvalidOperationException(error)));

    [Theory]
    [InlineData("https://app.example.com", true)]
    [InlineData("HTTPS://APP.EXAMPLE.COM", true)]             // scheme and host are case-insensitive
    [InlineData("http://app.example.com", false)]             // another scheme
    [InlineData("https://app.example.com:8443", false)]       // another port
    [InlineData("https://app.example.com.evil.com", false)]
    [InlineData("https://xapp.example.com", false)]
    [InlineData("https://app.example.co", false)]
    [InlineData("null", false)]
    [InlineData("", false)]
    public void ExactOrigins(string origin, bool allowed) =>
        Assert.Equal(allowed, Matcher("https://app.example.com").IsAllowed(origin));

    [Theory]
    [InlineData("https://a.example.com", true)]
    [InlineData("https://a.b.example.com", true)]
    [InlineData("https://A-1.Example.COM", true)]
    [InlineData("https://example.com", false)]                // the bare domain is not a subdomain
    [InlineData("https://.example.com", false)]
    [InlineData("https://evil-example.com", false)]           // suffix without the dot
    [InlineData("https://evilexample.com", false)]
    [InlineData("https://example.com.evil.com", false)]
    [InlineData("https://a.example.com.evil.com", false)]
    [InlineData("http://a.example.com", false)]               // the pattern's scheme only
    [InlineData("https://a.example.com:8443", false)]         // the pattern's (default) port only
    [InlineData("https://a.example.com:443", false)]          // browsers never send the default port
    [InlineData("https://user@a.example.com", false)]
    [InlineData("https://x:1.example.com", false)]
    [InlineData("https://a/.example.com", false)]
    [InlineData("https://a..example.com", false)]
    [InlineData("https://-a.example.com", false)]
    [InlineData("https://a .example.com", false)]
    [InlineData("https://a.example.com/", false)]
    public void WildcardSubdomains(string origin, bool allowed) =>
        Assert.Equal(allowed, Matcher("https://*.example.com").IsAllowed(origin));

    [Theory]
    [InlineData("https://a.example.com:8443", true)]
    [InlineData("https://a.example.com", false)]
    [InlineData("https://a.example.com:844", false)]
    [InlineData("https://a.example.com:84433", false)]
    public void WildcardWithPort(string origin, bool allowed) =>
        Assert.Equal(allowed, Matcher("https://*.example.com:8443").IsAllowed(origin));

    [Theory]
    [InlineData("https://app.example.com:443", "https://app.example.com")]
    [InlineData("http://localhost:80", "http://localhost")]
    [InlineData("http://localhost:3000", "http://localhost:3000")]
    [InlineData("https://localhost:80", "https://localhost:80")]
    [InlineData("HTTPS://App.Example.com", "https://app.example.com")]
    [InlineData("https://*.Example.com", "https://*.example.com")]
    [InlineData("http://[::1]:8080", "http://[::1]:8080")]
    [InlineData("http://127.0.0.1:5173", "http://127.0.0.1:5173")]
    [InlineData("*", "*")]
    public void PatternsAreNormalizedAsBrowsersSerializeOrigins(string pattern, string canonical)
    {
        Assert.True(OriginPattern.TryParse(pattern, out var parsed, out var error), error);
        Assert.Equal(canonical, parsed.ToString());
    }

    [Fact]
    public void DefaultPortInThePatternMatchesTheOriginWithoutIt()
    {
        Assert.True(Matcher("https://app.example.com:443").IsAllowed("https://app.example.com"));
        Assert.True(Matcher("http://localhost:3000").IsAllowed("http://localhost:3000"));
        Assert.False(Matcher("http://localhost:3000").IsAllowed("http://localhost:3001"));
        Assert.True(Matcher("http://[::1]:8080").IsAllowed("http://[::1]:8080"));
    }

    [Fact]
    public void AnyOriginAllowsEveryNonEmptyOrigin()
    {
        var m = Matcher("*");
        Assert.True(m.AllowsAny);
        Assert.True(m.IsAllowed("https://anything.test"));
        Assert.True(m.IsAllowed("null"));
        Assert.False(m.IsAllowed(""));
        Assert.False(m.IsAllowed(null));
    }

    [Fact]
    public void SeveralPatternsAreTriedInTurn()
    {
        var m = Matcher("https://app.example.com", "https://*.example.org", "http://localhost:3000");
        Assert.True(m.IsAllowed("https://app.example.com"));
        Assert.True(m.IsAllowed("https://x.example.org"));
        Assert.True(m.IsAllowed("http://localhost:3000"));
        Assert.False(m.IsAllowed("https://x.example.com"));
        Assert.False(m.AllowsAny);
    }

    [Theory]
    [InlineData("app.example.com", "scheme://host")]
    [InlineData("https://app.example.com/", "did you mean 'https://app.example.com'")]
    [InlineData("https://app.example.com/path", "did you mean 'https://app.example.com'")]
    [InlineData("https://app.example.com:99999", "not a port")]
    [InlineData("https://app.example.com:x", "not a port")]
    [InlineData("https://a.*.example.com", "'*' may only stand for the subdomain")]
    [InlineData("https://*example.com", "'*' may only stand for the subdomain")]
    [InlineData("https://*", "'*' may only stand for the subdomain")]
    [InlineData("https://*.", "not a host name")]
    [InlineData("https://", "not a host name")]
    [InlineData("https://user@app.example.com", "no user name")]
    [InlineData("1http://x", "not a URI scheme")]
    [InlineData("null", "opaque origin")]
    [InlineData("https://bücher.example", "punycode (xn--")]
    [InlineData("https://*.[::1]", "needs a domain name")]
    public void BadPatternsAreRejectedWithAReason(string pattern, string expected)
    {
        Assert.False(OriginPattern.TryParse(pattern, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
