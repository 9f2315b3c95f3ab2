using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>YARP's transforms as configured in Turnpike's YAML, checked at the backend and at the client.</summary>
public sealed class TransformTests : IAsyncLifetime
{
    private TestBackend _backend = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await TestBackend.StartEchoAsync();
        _gateway = await GatewayHost.StartAsync($$"""
            routes:
              strip:
                match: { pathPrefix: /strip }
                cluster: c
                transforms:
                  - pathRemovePrefix: /strip
              replace:
                match: { pathPrefix: /old }
                cluster: c
                transforms:
                  - pathRemovePrefix: /old
                  - pathPrefix: /new
              set:
                match: { pathPrefix: /fixed }
                cluster: c
                transforms:
                  - pathSet: /always/here
              pattern:
                match: { path: "/items/{id}/{**rest}" }
                cluster: c
                transforms:
                  - pathPattern: /v2/item/{id}/{**rest}
              headers:
                match: { pathPrefix: /headers }
                cluster: c
                transforms:
                  - requestHeader: x-set
                    set: from-gateway
                  - requestHeader: x-append
                    append: added
                  - requestHeaderRemove: x-secret
                  - responseHeader: x-served-by
                    set: turnpike
                    when: always
                  - responseHeader: x-multi
                    append: two
                  - responseHeaderRemove: x-backend
              forwarded-off:
                match: { pathPrefix: /noxf }
                cluster: c
                transforms:
                  - x-Forwarded: "Off"
              original-host:
                match: { pathPrefix: /host }
                cluster: c
                transforms:
                  - requestHeaderOriginalHost: "true"
              xff-append:
                match: { pathPrefix: /xff }
                cluster: c
                transforms:
                  - x-Forwarded: Append
            clusters:
              c:
                destinations:
                  d: {{_backend.Address}}
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    private async Task<(EchoResult Echo, HttpResponseMessage Response)> Get(string path, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Combine(path));
        configure?.Invoke(request);
        var response = await _gateway.Client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await Echo.ReadAsync(response), response);
    }

    [Theory]
    [InlineData("/strip/a/b?q=1", "/a/b")]
    [InlineData("/old/thing", "/new/thing")]
    [InlineData("/fixed/whatever", "/always/here")]
    [InlineData("/items/7/details/x", "/v2/item/7/details/x")]
    public async Task PathTransforms(string path, string upstreamPath)
    {
        var (echo, response) = await Get(path);
        using (response)
        {
            Assert.Equal(upstreamPath, echo.Path);
        }
    }

    [Fact]
    public async Task QueryIsKeptThroughPathTransforms()
    {
        var (echo, response) = await Get("/strip/a?q=1&r=two");
        using (response)
        {
            Assert.Equal("?q=1&r=two", echo.Query);
        }
    }

    [Fact]
    public async Task RequestAndResponseHeaderTransforms()
    {
        var (echo, response) = await Get("/headers", r =>
        {
            r.Headers.Add("x-set", "from-client");
            r.Headers.Add("x-append", "original");
            r.Headers.Add("x-secret", "hunter2");
        });
        using (response)
        {
            Assert.Equal("from-gateway", echo.Header("x-set"));
            Assert.Equal("original, added", echo.Header("x-append"));
            Assert.Null(echo.Header("x-secret"));
            Assert.Equal("turnpike", response.Headers.GetValues("x-served-by").Single());
            Assert.Equal(["two"], response.Headers.GetValues("x-multi"));
            Assert.False(response.Headers.Contains("x-backend"));
        }
    }

    [Fact]
    public async Task ForwardedHeadersCanBeTurnedOffOrAppended()
    {
        var (off, r1) = await Get("/noxf", r => r.Headers.Add("X-Forwarded-For", "10.9.9.9"));
        using (r1)
        {
            Assert.Null(off.Header("x-forwarded-proto"));
            Assert.Null(off.Header("x-forwarded-host"));
        }

        var (appended, r2) = await Get("/xff", r => r.Headers.Add("X-Forwarded-For", "10.9.9.9"));
        using (r2)
        {
            Assert.Equal("10.9.9.9, 127.0.0.1", appended.Header("x-forwarded-for"));
        }

        // Default (Set): a client-supplied X-Forwarded-For is replaced, not trusted.
        var (defaults, r3) = await Get("/strip/x", r => r.Headers.Add("X-Forwarded-For", "10.9.9.9"));
        using (r3)
        {
            Assert.Equal("127.0.0.1", defaults.Header("x-forwarded-for"));
        }
    }

    [Fact]
    public async Task HostHeaderIsTheDestinationsUnlessOriginalHostIsKept()
    {
        var (plain, r1) = await Get("/strip/x", r => r.Headers.Host = "public.example");
        using (r1)
        {
            Assert.Equal(_backend.Url.Authority, plain.Header("host"));
            Assert.Equal("public.example", plain.Header("x-forwarded-host"));
        }

        var (kept, r2) = await Get("/host", r => r.Headers.Host = "public.example");
        using (r2)
        {
            Assert.Equal("public.example", kept.Header("host"));
        }
    }
}
