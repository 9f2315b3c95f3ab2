using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>JWT and API-key authentication through the real gateway, a real JWKS endpoint and a real echo backend.</summary>
public sealed class IdentityTests(ITestOutputHelper output)
{
    private const string Secret = "a-shared-secret-of-at-least-32-bytes!!";

    internal static string Gateway(string backend, string schemes, string auth, string top = "") => $$"""
        {{top}}
        authSchemes:
        {{schemes}}
        routes:
          orders:
            match: { path: "/{**rest}" }
            cluster: c
            auth:
        {{auth}}
        clusters:
          c:
            destinations: { d: {{backend}} }
        """;

    private static string JwksScheme(TestIssuer issuer, string extra = "") => $$"""
          users:
            type: jwt
            issuer: {{TestIssuer.Issuer}}
            audiences: [{{TestIssuer.Audience}}]
            algorithms: [RS256, ES256]
            jwksUrl: {{issuer.JwksUrl}}
            {{extra}}
        """;

    internal static HttpRequestMessage Get(GatewayHost gw, string? token, string path = "/orders")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine(path));
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        return request;
    }

    internal static async Task<JsonObject> SchemeStatus(GatewayHost gw, string name)
    {
        var json = JsonNode.Parse(await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/auth")))!;
        return json["schemes"]!.AsArray().Single(s => (string)s!["name"]! == name)!.AsObject();
    }

    [Fact]
    public async Task RsaTokenFromJwksIsAcceptedAndIdentityHeadersAreForwardedWithoutSpoofing()
    {
        await using var issuer = await TestIssuer.StartAsync();
        var key = IssuerKey.NewRsa("k1");
        issuer.Publish(key);
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, JwksScheme(issuer),
            "      schemes: [users]\n      forwardClaims: { x-user-id: sub, x-tenant: tenant }"));

        using var request = Get(gw, TestIssuer.Mint(key, sub: "alice"));
        request.Headers.Add("x-user-id", "mallory");
        request.Headers.Add("x-tenant", "evil-corp");
        using var response = await gw.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await Echo.ReadAsync(response);
        Assert.Equal("alice", echo.Header("x-user-id"));
        Assert.Null(echo.Header("x-tenant")); // the token has no tenant claim: the client's copy is removed, nothing set
        Assert.Null(echo.Header("authorization"));

        // Unauthenticated: 401, a Bearer challenge, the gateway's reason header, and nothing reaches the backend.
        var before = backend.Requests;
        using var missing = await gw.Client.SendAsync(Get(gw, null));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer realm=\"turnpike\"", missing.Headers.WwwAuthenticate.ToString());
        Assert.Equal("unauthorized", missing.Headers.GetValues("x-turnpike-error").Single());
        using var bad = await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(key, audience: "other")));
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        Assert.Contains("error=\"invalid_token\"", bad.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, backend.Requests);

        var status = await SchemeStatus(gw, "users");
        Assert.Equal(1, (long)status["successes"]!);
        Assert.Equal(1, (long)status["failures"]!["missing_credentials"]!);
        Assert.Equal(1, (long)status["failures"]!["bad_audience"]!);
    }

    [Fact]
    public async Task KeepAuthorizationForwardsTheToken()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, $"  s: {{ type: jwt, secret: \"{Secret}\" }}",
            "      schemes: [s]\n      keepAuthorization: true"));
        var token = TestIssuer.Mint(IssuerKey.NewHmac(Secret));
        using var response = await gw.Client.SendAsync(Get(gw, token));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Bearer " + token, (await Echo.ReadAsync(response)).Header("authorization"));

        // The secret never shows in /admin/config.
        var config = await gw.Client.GetStringAsync(new Uri(gw.AdminUrl, "/admin/config"));
        Assert.Contains("\"authSchemes\"", config, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, config, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EcKeyFromPemFileAndHmacSecretSchemesBothWork()
    {
        var ec = IssuerKey.NewEc("e1");
        var pem = ec.Ec!.ExportSubjectPublicKeyInfoPem();
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(
            Gateway(backend.Address, $$"""
                  ec: { type: jwt, issuer: {{TestIssuer.Issuer}}, audiences: [{{TestIssuer.Audience}}], algorithms: [ES256], keysFile: ec.pem }
                  hs: { type: jwt, issuer: {{TestIssuer.Issuer}}, secret: "{{Secret}}", algorithms: [HS256] }
                """, "      schemes: [ec, hs]"),
            ("ec.pem", pem));

        using var viaEc = await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(ec)));
        Assert.Equal(HttpStatusCode.OK, viaEc.StatusCode);
        // A bearer token is taken by the first scheme that finds credentials (ec), which rejects an HS256 token.
        using var viaHs = await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(IssuerKey.NewHmac(Secret))));
        Assert.Equal(HttpStatusCode.Unauthorized, viaHs.StatusCode);
        Assert.Equal(1, (long)(await SchemeStatus(gw, "ec"))["failures"]!["disallowed_algorithm"]!);
    }

    [Fact]
    public async Task HmacSchemeAcceptsItsSecretAndRejectsAnotherOne()
    {
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, $"  s: {{ type: jwt, issuer: {TestIssuer.Issuer}, secret: \"{Secret}\" }}", "      schemes: [s]"));
        using var ok = await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(IssuerKey.NewHmac(Secret))));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var wrong = await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(IssuerKey.NewHmac(Secret + "x"))));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(1, backend.Requests);
    }

    [Fact]
    public async Task AuthorizationRulesAnswer403WhenNotAllowed()
    {
        var key = IssuerKey.NewHmac(Secret);
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, $"  s: {{ type: jwt, secret: \"{Secret}\" }}", """
                  schemes: [s]
                  require:
                    scopes: { any: [orders.read, orders.admin] }
                    roles: { all: [buyer] }
                    claims: { tenant: { prefix: "acme-" }, email: { regex: "@example\\.com$" } }
            """));

        string Token(string scope, object roles, string tenant, string email) => TestIssuer.Mint(key, claims: new Dictionary<string, object>
        {
            ["scope"] = scope, ["roles"] = roles, ["tenant"] = tenant, ["email"] = email,
        });

        async Task<HttpStatusCode> Status(string token)
        {
            using var r = await gw.Client.SendAsync(Get(gw, token));
            return r.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Status(Token("profile orders.read", new[] { "buyer", "x" }, "acme-eu", "a@example.com")));
        Assert.Equal(HttpStatusCode.Forbidden, await Status(Token("profile", new[] { "buyer" }, "acme-eu", "a@example.com")));
        Assert.Equal(HttpStatusCode.Forbidden, await Status(Token("orders.read", new[] { "seller" }, "acme-eu", "a@example.com")));
        Assert.Equal(HttpStatusCode.Forbidden, await Status(Token("orders.read", "buyer", "other", "a@example.com")));
        Assert.Equal(HttpStatusCode.Forbidden, await Status(Token("orders.read", "buyer", "acme-eu", "a@example.com.evil")));
        using var forbidden = await gw.Client.SendAsync(Get(gw, Token("profile", "buyer", "acme-eu", "a@example.com")));
        Assert.Equal("forbidden", forbidden.Headers.GetValues("x-turnpike-error").Single());
        Assert.Contains("insufficient_scope", forbidden.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, backend.Requests);
    }

    [Fact]
    public async Task ApiKeysIdentifyConsumersAndPartitionRateLimits()
    {
        var hashed = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("globex-key-0123456789"u8));
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(
            Gateway(backend.Address, """
                  partners:
                    type: apiKey
                    header: x-api-key
                    keys: { acme: "acme-key-0123456789" }
                    keysFile: keys.txt
                """,
                "      schemes: [partners]\n      forwardClaims: { x-consumer: sub }\n    rateLimit: perConsumer",
                "rateLimits:\n  perConsumer: { algorithm: fixedWindow, limit: 2, period: 1m, key: { claim: sub } }"),
            ("keys.txt", $"# consumer sha256\nglobex {hashed}\n"));

        async Task<HttpResponseMessage> Send(string? key)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/x"));
            if (key is not null)
            {
                request.Headers.Add("x-api-key", key);
            }

            return await gw.Client.SendAsync(request);
        }

        using (var acme = await Send("acme-key-0123456789"))
        {
            Assert.Equal(HttpStatusCode.OK, acme.StatusCode);
            Assert.Equal("acme", (await Echo.ReadAsync(acme)).Header("x-consumer"));
        }

        using (var globex = await Send("globex-key-0123456789"))
        {
            Assert.Equal("globex", (await Echo.ReadAsync(globex)).Header("x-consumer"));
        }

        Assert.Equal(HttpStatusCode.OK, (await Send("acme-key-0123456789")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Send("acme-key-0123456789")).StatusCode); // acme's partition is spent
        Assert.Equal(HttpStatusCode.OK, (await Send("globex-key-0123456789")).StatusCode);           // globex has its own
        using var unknown = await Send("acme-key-0123456780");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.StartsWith("ApiKey", unknown.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(null)).StatusCode);
        Assert.Equal(4, backend.Requests);
        var status = await SchemeStatus(gw, "partners");
        Assert.Equal(1, (long)status["failures"]!["unknown_api_key"]!);
    }

    /// <summary>
    /// The issuer adds a key: tokens with the new kid are accepted after the early (unknown-kid) refresh, without a
    /// restart. The issuer then removes the old key: after the next refresh, old-key tokens are rejected, even those
    /// in the token cache.
    /// </summary>
    [Fact]
    public async Task KeyRotationIsFollowedWithoutRestart()
    {
        await using var issuer = await TestIssuer.StartAsync();
        var old = IssuerKey.NewRsa("old");
        var next = IssuerKey.NewRsa("new");
        issuer.Publish(old);
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, JwksScheme(issuer, "refreshInterval: 2s\n    minRefreshInterval: 1s"), "      schemes: [users]"));

        var oldToken = TestIssuer.Mint(old);
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(Get(gw, oldToken))).StatusCode);

        issuer.Publish(old, next);
        var newToken = TestIssuer.Mint(next);
        var accepted = await Until(async () => (await gw.Client.SendAsync(Get(gw, newToken))).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10));
        output.WriteLine($"new key accepted after {accepted.TotalMilliseconds:F0} ms");
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(Get(gw, oldToken))).StatusCode);

        issuer.Publish(next);
        var rejected = await Until(async () => (await gw.Client.SendAsync(Get(gw, oldToken))).StatusCode == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(15));
        output.WriteLine($"old key rejected after {rejected.TotalMilliseconds:F0} ms");
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(Get(gw, newToken))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(old)))).StatusCode);
    }

    /// <summary>
    /// 1,000 tokens with random unknown kids, sent in 10 waves over about 3 s, cause at most
    /// 1 + duration / minRefreshInterval JWKS fetches (minRefreshInterval is 1 s here: at most 4 or so), and at least one
    /// (the early refresh does happen). With the issuer down, tokens signed by the cached key keep validating.
    /// </summary>
    [Fact]
    public async Task UnknownKidFloodIsRateLimitedAndCachedKeysSurviveAnIssuerOutage()
    {
        await using var issuer = await TestIssuer.StartAsync();
        var key = IssuerKey.NewRsa("k1");
        issuer.Publish(key);
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(Gateway(backend.Address, JwksScheme(issuer, "minRefreshInterval: 1s\n    tokenCache: { maxEntries: 0 }"), "      schemes: [users]"));
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(key)))).StatusCode);

        var attacker = IssuerKey.NewRsa("unused");
        var tokens = Enumerable.Range(0, 1000).Select(i =>
            TestIssuer.Jws($$"""{"alg":"RS256","typ":"JWT","kid":"{{Guid.NewGuid():N}}"}""", TestIssuer.ValidPayload(),
                data => attacker.Rsa!.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1))).ToArray();
        await Task.Delay(1100); // past minRefreshInterval after the start-up fetch
        var fetchesBefore = issuer.JwksRequests;
        var clock = Stopwatch.StartNew();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        foreach (var wave in tokens.Chunk(100))
        {
            await Parallel.ForEachAsync(wave, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (token, _) =>
            {
                using var r = await gw.Client.SendAsync(Get(gw, token));
                statuses.Add(r.StatusCode);
            });
            await Task.Delay(300);
        }

        clock.Stop();
        var fetches = issuer.JwksRequests - fetchesBefore;
        var bound = 1 + (int)(clock.Elapsed.TotalSeconds / 1);
        output.WriteLine($"1000 unknown kids in {clock.Elapsed.TotalSeconds:F2} s: {fetches} JWKS fetches (bound {bound})");
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.InRange(fetches, 1, bound);
        Assert.Equal(1, backend.Requests);

        issuer.Down = true;
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(Get(gw, TestIssuer.Mint(key, sub: "u" + i)))).StatusCode);
        }

        var status = await SchemeStatus(gw, "users");
        Assert.Equal(1000, (long)status["failures"]!["unknown_key"]!);
        Assert.True((long)status["keys"]!["rateLimitedRefreshes"]! > 0); // the rest joined a fetch in flight
    }

    private static async Task<TimeSpan> Until(Func<Task<bool>> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < limit, $"condition not met within {limit.TotalSeconds} s");
            await Task.Delay(100);
        }

        return clock.Elapsed;
    }
}
