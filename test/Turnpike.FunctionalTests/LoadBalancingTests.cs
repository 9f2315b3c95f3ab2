using System.Net;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

public sealed class LoadBalancingTests
{
    [Fact]
    public async Task WeightedThreeToOneSplitsTenThousandRequestsExactly()
    {
        await using var heavy = await TestBackend.StartEchoAsync("heavy");
        await using var light = await TestBackend.StartEchoAsync("light");
        await using var gw = await GatewayHost.StartAsync($$"""
            routes:
              all:
                match: { path: "/{**rest}" }
                cluster: c
            clusters:
              c:
                loadBalancing:
                  policy: weighted_round_robin
                destinations:
                  heavy: { address: "{{heavy.Address}}", weight: 3 }
                  light: { address: "{{light.Address}}", weight: 1 }
            """);

        // 10,000 requests from 8 concurrent clients: one shared sequence counter, so the split is exact whatever
        // the interleaving; the acceptance bound is ±2 %.
        var counts = new int[2];
        async Task Client(int client)
        {
            for (var i = 0; i < 1250; i++)
            {
                using var response = await gw.Client.GetAsync(gw.Combine($"/r/{client}/{i}"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Interlocked.Increment(ref counts[response.Headers.GetValues("x-backend").Single() == "heavy" ? 0 : 1]);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(Client));
        Assert.InRange(counts[0], 7300, 7700);
        Assert.Equal((7500, 2500), (counts[0], counts[1]));
        Assert.Equal((7500, 2500), (heavy.Requests, light.Requests));
    }

    [Fact]
    public async Task ConsistentHashOnAHeaderKeepsEachUserOnOneBackend()
    {
        var backends = new TestBackend[4];
        for (var i = 0; i < backends.Length; i++)
        {
            backends[i] = await TestBackend.StartEchoAsync($"b{i}");
        }

        try
        {
            var destinations = string.Join("\n", backends.Select((b, i) => $"          b{i}: {b.Address}"));
            await using var gw = await GatewayHost.StartAsync($$"""
                routes:
                  all:
                    match: { path: "/{**rest}" }
                    cluster: c
                clusters:
                  c:
                    loadBalancing:
                      policy: consistent_hash
                      hashKey: { header: x-user }
                    destinations:
                {{destinations}}
                """);

            var homes = new Dictionary<string, string>();
            for (var round = 0; round < 5; round++)
            {
                for (var user = 0; user < 40; user++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/profile"));
                    request.Headers.Add("x-user", $"user-{user}");
                    using var response = await gw.Client.SendAsync(request);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    var backend = (await Echo.ReadAsync(response)).Backend;
                    Assert.Equal(homes.TryAdd($"user-{user}", backend) ? backend : homes[$"user-{user}"], backend);
                }
            }

            // 40 users over 4 backends: more than one backend is in use.
            Assert.True(homes.Values.Distinct().Count() > 1, string.Join(", ", homes));
        }
        finally
        {
            foreach (var b in backends)
            {
                await b.DisposeAsync();
            }
        }
    }
}
