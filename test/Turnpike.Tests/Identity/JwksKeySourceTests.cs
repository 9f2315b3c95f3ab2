using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using Turnpike.Configuration;
using Turnpike.Identity.Jwt;

namespace Turnpike.Tests.Identity;

/// <summary>The JWKS refresher on virtual time: TTL refresh, rate-limited single-flight unknown-kid refresh, last good keys kept.</summary>
public sealed class JwksKeySourceTests
{
    private static readonly JwtSchemeConfig Config = new()
    {
        Issuer = "i",
        JwksUrl = "https://issuer.test/jwks.json",
        RefreshInterval = TimeSpan.FromMinutes(10),
        MinRefreshInterval = TimeSpan.FromSeconds(30),
    };

    internal static string Jwks(params string[] kids) =>
        "{\"keys\":[" + string.Join(',', kids.Select(k =>
        {
            using var rsa = RSA.Create(2048);
            var p = rsa.ExportParameters(false);
            return $$"""{"kty":"RSA","kid":"{{k}}","use":"sig","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}"}""";
        })) + "]}";

    private sealed class FakeIssuer : HttpMessageHandler
    {
        private int _calls;

        public volatile string Body = Jwks("k1");

        public volatile bool Down;

        public TaskCompletionSource? Gate;

        public int Calls => Volatile.Read(ref _calls);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            if (Gate is { } gate)
            {
                await gate.Task;
            }

            return Down
                ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
                : new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Body) };
        }
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task FetchesAtStartThenEveryRefreshInterval()
    {
        var time = new FakeTimeProvider();
        var issuer = new FakeIssuer();
        using var source = new JwksKeySource("s", Config, time, NullLogger.Instance, new HttpMessageInvoker(issuer));
        source.Start();
        await WaitFor(() => source.Current.Contains("k1"));
        Assert.Equal(1, issuer.Calls);

        issuer.Body = Jwks("k2");
        time.Advance(TimeSpan.FromMinutes(9));
        await Task.Delay(20);
        Assert.Equal(1, issuer.Calls);
        time.Advance(TimeSpan.FromMinutes(1));
        await WaitFor(() => source.Current.Contains("k2"));
        Assert.False(source.Current.Contains("k1"));
        Assert.Equal(2, issuer.Calls);
    }

    [Fact]
    public async Task UnknownKidRefreshIsRateLimitedToOnePerMinRefreshInterval()
    {
        var time = new FakeTimeProvider();
        var issuer = new FakeIssuer();
        using var source = new JwksKeySource("s", Config, time, NullLogger.Instance, new HttpMessageInvoker(issuer));
        source.Start();
        await WaitFor(() => source.Current.Count == 1);

        // Within minRefreshInterval of the start-up fetch: 1,000 unknown kids fetch nothing.
        for (var i = 0; i < 1000; i++)
        {
            await source.RefreshForUnknownKeyAsync();
        }

        Assert.Equal(1, issuer.Calls);
        Assert.Equal(1000, source.RateLimitedRefreshes);

        // After it: one fetch, shared by every concurrent caller (single flight), then refused again.
        time.Advance(TimeSpan.FromSeconds(30));
        issuer.Gate = new TaskCompletionSource();
        issuer.Body = Jwks("k1", "k2");
        var waiting = Enumerable.Range(0, 1000).Select(_ => source.RefreshForUnknownKeyAsync().AsTask()).ToArray();
        issuer.Gate.SetResult();
        var sets = await Task.WhenAll(waiting);
        Assert.Equal(2, issuer.Calls);
        Assert.All(sets, s => Assert.True(s.Contains("k2")));
        await source.RefreshForUnknownKeyAsync();
        Assert.Equal(2, issuer.Calls);

        // Bound over a longer flood: at most 1 + D / minRefreshInterval fetches for D of virtual time.
        issuer.Gate = null;
        for (var second = 0; second < 300; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            for (var i = 0; i < 10; i++)
            {
                await source.RefreshForUnknownKeyAsync();
            }
        }

        Assert.InRange(issuer.Calls - 2, 1, 1 + (300 / 30));
    }

    /// <summary>A refused (rate-limited) refresh briefly owns the in-flight slot; callers that join it must not hang.</summary>
    [Fact]
    public async Task ConcurrentRefusedRefreshesAllComplete()
    {
        var issuer = new FakeIssuer();
        using var source = new JwksKeySource("s", Config, new FakeTimeProvider(), NullLogger.Instance, new HttpMessageInvoker(issuer));
        await source.RefreshForUnknownKeyAsync();
        var all = Enumerable.Range(0, 2000).Select(_ => Task.Run(async () => await source.RefreshForUnknownKeyAsync())).ToArray();
        await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, issuer.Calls);
    }

    [Fact]
    public async Task IssuerDownKeepsTheLastGoodKeysAndRetriesAtMinRefreshInterval()
    {
        var time = new FakeTimeProvider();
        var issuer = new FakeIssuer();
        using var source = new JwksKeySource("s", Config, time, NullLogger.Instance, new HttpMessageInvoker(issuer));
        source.Start();
        await WaitFor(() => source.Current.Contains("k1"));

        issuer.Down = true;
        time.Advance(TimeSpan.FromMinutes(10));
        await WaitFor(() => source.IsDown);
        Assert.True(source.Current.Contains("k1"));
        Assert.Equal(1, source.FetchFailures);
        Assert.Contains("503", source.LastError, StringComparison.Ordinal);

        // Garbage from the issuer is a failure too, not an empty key set.
        issuer.Down = false;
        issuer.Body = "{\"keys\":[]}";
        time.Advance(TimeSpan.FromSeconds(30));
        await WaitFor(() => issuer.Calls == 3);
        await Task.Delay(20);
        Assert.True(source.Current.Contains("k1"));

        issuer.Body = Jwks("k9");
        time.Advance(TimeSpan.FromSeconds(30));
        await WaitFor(() => source.Current.Contains("k9"));
        Assert.False(source.IsDown);
    }

    [Fact]
    public async Task DiscoveryDocumentLeadsToTheJwks()
    {
        var time = new FakeTimeProvider();
        var jwks = Jwks("d1");
        var handler = new RoutingHandler(url => url.EndsWith("openid-configuration", StringComparison.Ordinal)
            ? """{"issuer":"i","jwks_uri":"https://issuer.test/keys"}""" : jwks);
        using var source = new JwksKeySource("s", Config with { JwksUrl = null, Discovery = "https://issuer.test/.well-known/openid-configuration" }, time, NullLogger.Instance, new HttpMessageInvoker(handler));
        var set = await source.RefreshForUnknownKeyAsync();
        Assert.True(set.Contains("d1"));
        Assert.Equal(["https://issuer.test/.well-known/openid-configuration", "https://issuer.test/keys"], handler.Urls);
    }

    [Fact]
    public async Task DiscoveryPointingAtPlainHttpElsewhereIsRefused()
    {
        var handler = new RoutingHandler(url => url.EndsWith("openid-configuration", StringComparison.Ordinal)
            ? """{"jwks_uri":"http://evil.test/keys"}""" : Jwks("x"));
        using var source = new JwksKeySource("s", Config with { JwksUrl = null, Discovery = "https://issuer.test/.well-known/openid-configuration" }, new FakeTimeProvider(), NullLogger.Instance, new HttpMessageInvoker(handler));
        var set = await source.RefreshForUnknownKeyAsync();
        Assert.Equal(0, set.Count);
        Assert.Contains("not https", source.LastError, StringComparison.Ordinal);
        Assert.Single(handler.Urls);
    }

    private sealed class RoutingHandler(Func<string, string> body) : HttpMessageHandler
    {
        public List<string> Urls { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var url = request.RequestUri!.ToString();
            lock (Urls)
            {
                Urls.Add(url);
            }

            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body(url)) });
        }
    }
}
