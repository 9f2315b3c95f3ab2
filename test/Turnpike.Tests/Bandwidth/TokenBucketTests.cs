using Microsoft.Extensions.Time.Testing;
using Turnpike.Bandwidth;

namespace Turnpike.Tests.Bandwidth;

public sealed class TokenBucketTests
{
    [Fact]
    public void BurstGoesAtOnceThenTheRate()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(bytesPerSecond: 1000, burst: 500, time);

        Assert.Equal(500, bucket.TryTake(800));
        Assert.Equal(0, bucket.TryTake(1));

        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(100, bucket.TryTake(1000));
        Assert.Equal(0, bucket.TryTake(1));

        time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(250, bucket.Available);
    }

    [Fact]
    public void RefillStopsAtTheBurst()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(1000, 500, time);
        bucket.TryTake(500);

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(500, bucket.Available);
        Assert.Equal(500, bucket.TryTake(10_000));
    }

    [Fact]
    public void ReservationsQueueInOrderAndCanBeRefunded()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(1000, 500, time);

        Assert.Equal(TimeSpan.Zero, bucket.Reserve(500));
        Assert.Equal(TimeSpan.FromMilliseconds(100), bucket.Reserve(100));
        Assert.Equal(TimeSpan.FromMilliseconds(300), bucket.Reserve(200));

        bucket.Refund(200); // the last waiter was cancelled
        Assert.Equal(TimeSpan.FromMilliseconds(200), bucket.Reserve(100));

        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, bucket.Available);
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.Equal(50, bucket.Available);
    }

    [Fact]
    public void ConcurrentConsumersNeverTakeMoreThanTheBucketHolds()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(bytesPerSecond: 100_000, burst: 100_000, time);
        long total = 0;

        void Drain() => Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 100_000; i++)
            {
                var got = bucket.TryTake(7);
                if (got == 0 && bucket.Available == 0)
                {
                    break;
                }

                Interlocked.Add(ref total, got);
            }
        });

        Drain();
        Assert.Equal(100_000, total);

        time.Advance(TimeSpan.FromMilliseconds(300));
        Drain();
        Assert.Equal(130_000, total);
    }

    [Fact]
    public void ConcurrentReservationsAddUpToTheRate()
    {
        var time = new FakeTimeProvider();
        var bucket = new TokenBucket(bytesPerSecond: 10_000, burst: 1_000, time);
        var waits = new TimeSpan[400];
        Parallel.For(0, waits.Length, i => waits[i] = bucket.Reserve(100));

        // 40 000 bytes at 10 000 B/s after a 1 000 B burst: the last waiter waits 3.9 s, and no two wait the same.
        Assert.Equal(TimeSpan.FromSeconds(3.9), waits.Max());
        Assert.Equal(waits.Length - 10, waits.Where(w => w > TimeSpan.Zero).Distinct().Count());
    }

    [Fact]
    public void PartitionsAreBoundedAndEvictIdleBucketsFirst()
    {
        var time = new FakeTimeProvider();
        var partitions = new BucketPartitions<string>(1000, 500, maxClients: 3, time);
        var busy = partitions.For("busy");
        busy.TryTake(500); // in use: not full
        partitions.For("idle1");
        partitions.For("idle2");
        Assert.Equal(3, partitions.Count);

        partitions.For("new");
        Assert.True(partitions.Count <= 3);
        Assert.Same(busy, partitions.For("busy"));
    }
}
