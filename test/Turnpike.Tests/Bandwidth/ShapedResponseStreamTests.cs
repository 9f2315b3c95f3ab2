using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Bandwidth;
using Turnpike.Configuration;

namespace Turnpike.Tests.Bandwidth;

public sealed class ShapedResponseStreamTests
{
    [Fact]
    public async Task WritesWithinTheBurstAtOnceAndTheRestAsTheBucketRefills()
    {
        var time = new FakeTimeProvider();
        var inner = new MemoryStream();
        var stream = new ShapedResponseStream(inner, new TokenBucket(1000, 1000, time), piece: 500, time);

        await stream.WriteAsync(new byte[1000]);
        Assert.Equal(1000, inner.Length);

        var pending = stream.WriteAsync(new byte[1500]).AsTask();
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(500));
        await WaitUntil(() => inner.Length == 1500);
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1000));
        await pending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2500, inner.Length);
    }

    [Fact]
    public async Task CancelledWaitGivesTheReservationBack()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(1000, 1000, time);
        var stream = new ShapedResponseStream(Stream.Null, bucket, piece: 1000, time);
        await stream.WriteAsync(new byte[1000]);

        using var cts = new CancellationTokenSource();
        var pending = stream.WriteAsync(new byte[500], cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);

        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(500, bucket.Available);
    }

    [Fact]
    public void PolicyLeavesUpgradesAloneAndPartitionsByHeader()
    {
        var time = new FakeTimeProvider();
        var policy = new BandwidthPolicy(new BandwidthConfig { BytesPerSecond = 1000, Burst = 2000, PerClient = BandwidthPartition.Header, Header = "x-user" }, time);

        var upgrade = new DefaultHttpContext();
        upgrade.Features.Set<IHttpUpgradeFeature>(new Upgradable());
        var body = upgrade.Response.Body;
        policy.Apply(upgrade);
        Assert.Same(body, upgrade.Response.Body);

        var a = new DefaultHttpContext();
        a.Request.Headers["x-user"] = "a";
        var b = new DefaultHttpContext();
        b.Request.Headers["x-user"] = "b";
        var anonymous = new DefaultHttpContext();
        Assert.NotSame(policy.BucketFor(a), policy.BucketFor(b));
        Assert.Same(policy.BucketFor(a), policy.BucketFor(a));
        Assert.Same(policy.Shared, policy.BucketFor(anonymous));
        policy.Apply(a);
        Assert.IsType<ShapedResponseStream>(a.Response.Body);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    private sealed class Upgradable : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => true;

        public Task<Stream> UpgradeAsync() => throw new NotSupportedException();
    }
}
