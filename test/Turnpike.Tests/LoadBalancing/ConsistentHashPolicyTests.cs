using System.Net;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Model;
using static Turnpike.Tests.LoadBalancing.LoadBalancingTestData;

namespace Turnpike.Tests.LoadBalancing;

public sealed class ConsistentHashPolicyTests
{
    private static ConsistentHashPolicy Maglev(DestinationModel[] d, HashKeyConfig? key = null) =>
        (ConsistentHashPolicy)Create(LoadBalancingPolicyKind.ConsistentHash, d, key: key ?? new HashKeyConfig { Source = HashKeySource.Header, Name = "x-user" });

    private static string[] Keys(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => $"user-{random.NextInt64():x}").ToArray();
    }

    private static DefaultHttpContext WithHeader(string value)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["x-user"] = value;
        return context;
    }

    [Fact]
    public void SameKeySameDestination()
    {
        var d = Uniform(5);
        var policy = Maglev(d);
        foreach (var key in Keys(100, 1))
        {
            var first = policy.Pick(WithHeader(key), d, null);
            for (var i = 0; i < 5; i++)
            {
                Assert.Same(first, policy.Pick(WithHeader(key), d, null));
            }

            // A policy rebuilt from the same config agrees (e.g. after a reload).
            var again = Uniform(5);
            Assert.Equal(first!.Id, Maglev(again).Pick(WithHeader(key), again, null)!.Id);
        }
    }

    [Fact]
    public void KeysSpreadEvenly()
    {
        var d = Uniform(5);
        var policy = Maglev(d);
        var counts = d.ToDictionary(x => x.Id, _ => 0);
        foreach (var key in Keys(10_000, 2))
        {
            counts[policy.Pick(WithHeader(key), d, null)!.Id]++;
        }

        Assert.All(counts.Values, c => Assert.InRange(c, 1_500, 2_500));
    }

    [Fact]
    public void RemovingOneOfTenMovesAboutATenth()
    {
        var ten = Uniform(10);
        var nine = ten.Where(x => x.Id != "d4").Select(x => new DestinationModel(x.Config)).ToArray();
        var before = Maglev(ten);
        var after = Maglev(nine);
        var moved = 0;
        var movedOffSurvivors = 0;
        foreach (var key in Keys(10_000, 3))
        {
            var hash = ConsistentHashPolicy.HashKey(key);
            var a = before.Lookup(hash, null).Id;
            var b = after.Lookup(hash, null).Id;
            if (a != b)
            {
                moved++;
                if (a != "d4")
                {
                    movedOffSurvivors++;
                }
            }
        }

        Assert.InRange(moved, 900, 1_200);
        Assert.True(movedOffSurvivors < 200, $"{movedOffSurvivors} keys moved between surviving destinations");
    }

    [Fact]
    public void ExcludeIsDeterministic()
    {
        var d = Uniform(4);
        var policy = Maglev(d);
        foreach (var key in Keys(200, 4))
        {
            var home = policy.Pick(WithHeader(key), d, null)!;
            var retry = policy.Pick(WithHeader(key), d, home)!;
            Assert.NotSame(home, retry);
            Assert.Same(retry, policy.Pick(WithHeader(key), d, home));
        }
    }

    [Fact]
    public void MissingKeyFallsBackToRoundRobin()
    {
        var d = Uniform(3);
        var policy = Maglev(d);
        var picks = Enumerable.Range(0, 6).Select(_ => policy.Pick(new DefaultHttpContext(), d, null)!.Id).ToArray();
        Assert.Equal(["d0", "d1", "d2", "d0", "d1", "d2"], picks);
    }

    [Fact]
    public void KeysFromClientIpCookieAndQuery()
    {
        var d = Uniform(8);

        var byIp = Maglev(d, new HashKeyConfig { Source = HashKeySource.ClientIp });
        var ip = new DefaultHttpContext();
        ip.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
        var mapped = new DefaultHttpContext();
        mapped.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7").MapToIPv6();
        var home = byIp.Pick(ip, d, null);
        Assert.Same(home, byIp.Pick(ip, d, null));
        Assert.Same(home, byIp.Pick(mapped, d, null));

        var byCookie = Maglev(d, new HashKeyConfig { Source = HashKeySource.Cookie, Name = "sid" });
        var byQuery = Maglev(d, new HashKeyConfig { Source = HashKeySource.Query, Name = "tenant" });
        var expected = byCookie.Lookup(ConsistentHashPolicy.HashKey("abc"), null);
        for (var i = 0; i < 5; i++)
        {
            var cookie = new DefaultHttpContext();
            cookie.Request.Headers.Cookie = "other=1; sid=abc";
            Assert.Same(expected, byCookie.Pick(cookie, d, null));

            var query = new DefaultHttpContext();
            query.Request.QueryString = new QueryString("?tenant=abc&x=1");
            Assert.Same(expected, byQuery.Pick(query, d, null));
        }
    }

    [Fact]
    public void TableSizeIsAPrimeOfAtLeastAHundredPerDestination()
    {
        Assert.Equal(65537, Maglev(Uniform(3)).TableSize);
        Assert.Equal(100_003, ConsistentHashPolicy.TableSizeFor(1_000));
    }
}
