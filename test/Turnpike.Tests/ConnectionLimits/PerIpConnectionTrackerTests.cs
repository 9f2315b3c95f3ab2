using System.Net;
using Microsoft.Extensions.Time.Testing;
using Turnpike.ConnectionLimits;
using Turnpike.Configuration;

namespace Turnpike.Tests.ConnectionLimits;

public sealed class PerIpConnectionTrackerTests
{
    private static readonly IpKey A = IpKey.Parse("192.0.2.1");
    private static readonly IpKey B = IpKey.Parse("192.0.2.2");
    private readonly FakeTimeProvider _time = new();

    private PerIpConnectionTracker Tracker(ConnectionLimitsConfig config) =>
        new(new ConnectionLimitOptions(config, _time.TimestampFrequency), _time, TimeSpan.FromSeconds(10));

    [Fact]
    public void RefusesTheConnectionOverThePerIpLimitAndAcceptsAgainAfterARelease()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 10 });
        var entries = new List<IpEntry>();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(A, out var entry));
            entries.Add(entry!);
        }

        Assert.Equal(ConnectionVerdict.PerIpLimit, tracker.TryAcquire(A, out var refused));
        Assert.Null(refused);
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(B, out _)); // other IPs have their own count
        Assert.Same(entries[0], entries[9]);
        Assert.Equal(10, entries[0].Connections);

        PerIpConnectionTracker.Release(entries[0]);
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(A, out _));
        Assert.Equal(2, tracker.Count);
    }

    [Fact]
    public void TheSixthNewConnectionWithinASecondIsRefusedAndOneMoreIsAllowedEveryFifthOfASecond()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { NewPerIpPerSecond = 5 });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        }

        Assert.Equal(ConnectionVerdict.RateLimit, AcquireAndRelease(tracker, A));
        _time.Advance(TimeSpan.FromMilliseconds(199));
        Assert.Equal(ConnectionVerdict.RateLimit, AcquireAndRelease(tracker, A));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.RateLimit, AcquireAndRelease(tracker, A));

        // A full second of quiet refills the whole bucket, and no more than that.
        _time.Advance(TimeSpan.FromSeconds(10));
        var accepted = 0;
        while (AcquireAndRelease(tracker, A) == ConnectionVerdict.Accepted && accepted < 100)
        {
            accepted++;
        }

        Assert.Equal(5, accepted);
    }

    [Fact]
    public void BurstSetsTheBucketSize()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { NewPerIpPerSecond = 1, Burst = 3 });
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.RateLimit, AcquireAndRelease(tracker, A));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.RateLimit, AcquireAndRelease(tracker, A));
    }

    [Fact]
    public void ARefusalForTheOpenLimitTakesNoToken()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 1, NewPerIpPerSecond = 2 });
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(A, out var first));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(ConnectionVerdict.PerIpLimit, tracker.TryAcquire(A, out _));
        }

        PerIpConnectionTracker.Release(first!);
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A)); // the second token is still there
        Assert.Equal(ConnectionVerdict.RateLimit, AcquireAndRelease(tracker, A));
    }

    [Fact]
    public void ARateRefusalDoesNotHoldAnOpenSlot()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 1, NewPerIpPerSecond = 1 });
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.RateLimit, tracker.TryAcquire(A, out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(A, out var entry));
        Assert.Equal(1, entry!.Connections);
    }

    [Fact]
    public void SweepRemovesOnlyIpsWithoutConnectionsWhoseBucketIsFull()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 10, NewPerIpPerSecond = 1, Burst = 2 });
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(A, out var open)); // stays open
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, B));       // closed, bucket not full yet
        Assert.Equal(2, tracker.Count);

        Assert.Equal(0, tracker.Sweep());
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(0, tracker.Sweep());
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, tracker.Sweep()); // B: no connection, bucket full again
        Assert.Equal(1, tracker.Count);

        PerIpConnectionTracker.Release(open!);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, tracker.Sweep());
        Assert.Equal(0, tracker.Count);

        // A swept entry is dead: the next connection from A starts a fresh one.
        Assert.Equal(-1, open!.Connections);
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(A, out var again));
        Assert.NotSame(open, again);
        Assert.Equal(1, again!.Connections);
    }

    [Fact]
    public void TheTimerSweeps()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 10 });
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, IpKey.Parse($"198.51.100.{i}")));
        }

        Assert.Equal(50, tracker.Count);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public void ANewIpBeyondTheCapIsRefusedUntilAnEntryIsSwept()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 10, MaxTrackedIps = 3 });
        var entries = new IpEntry[3];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(IpKey.Parse($"198.51.100.{i}"), out entries[i]!));
        }

        var newcomer = IpKey.Parse("203.0.113.9");
        Assert.Equal(ConnectionVerdict.TrackerFull, tracker.TryAcquire(newcomer, out _));
        Assert.Equal(3, tracker.Count);
        // Known IPs are still served.
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(IpKey.Parse("198.51.100.0"), out _));

        PerIpConnectionTracker.Release(entries[1]);
        Assert.Equal(1, tracker.Sweep());
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(newcomer, out _));
        Assert.Equal(3, tracker.Count);
    }

    [Fact]
    public void AFullTableAsksForASweepAtMostOnceASecond()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 10, MaxTrackedIps = 1 });
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ConnectionVerdict.TrackerFull, tracker.TryAcquire(B, out _)); // queues a sweep on the thread pool
        Assert.True(SpinWait.SpinUntil(() => tracker.Count == 0, TimeSpan.FromSeconds(5)));
        // Within the second after that sweep, a full table does not queue another one.
        Assert.Equal(ConnectionVerdict.Accepted, AcquireAndRelease(tracker, A));
        Assert.Equal(ConnectionVerdict.TrackerFull, tracker.TryAcquire(B, out _));
        Assert.False(SpinWait.SpinUntil(() => tracker.Count == 0, TimeSpan.FromMilliseconds(200)));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ConnectionVerdict.TrackerFull, tracker.TryAcquire(B, out _));
        Assert.True(SpinWait.SpinUntil(() => tracker.Count == 0, TimeSpan.FromSeconds(5)));
        Assert.Equal(ConnectionVerdict.Accepted, tracker.TryAcquire(B, out _));
    }

    [Fact]
    public void ConcurrentAcquireReleaseAndSweepKeepExactCounts()
    {
        using var tracker = Tracker(new ConnectionLimitsConfig { PerIp = 4 });
        var keys = new[] { A, B, IpKey.Parse("2001:db8::1") };
        var accepted = 0;
        var threads = new Thread[4];
        for (var t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                for (var i = 0; i < 20_000; i++)
                {
                    if (tracker.TryAcquire(keys[i % keys.Length], out var entry) == ConnectionVerdict.Accepted)
                    {
                        Interlocked.Increment(ref accepted);
                        PerIpConnectionTracker.Release(entry!);
                    }

                    if (i % 1000 == 0)
                    {
                        tracker.Sweep();
                    }
                }
            });
            threads[t].Start();
        }

        foreach (var thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)));
        }

        Assert.Equal(80_000, accepted); // never more than 4 threads at once, so never over the limit of 4
        Assert.InRange(tracker.Count, 0, 3);
        tracker.Sweep();
        Assert.Equal(0, tracker.Count);
    }

    [Theory]
    [InlineData("10.1.2.3", "10.0.0.0/8", true)]
    [InlineData("11.1.2.3", "10.0.0.0/8", false)]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.2", "127.0.0.1/32", false)]
    [InlineData("::ffff:10.9.9.9", "10.0.0.0/8", true)]
    [InlineData("fd12::5", "fd00::/8", true)]
    [InlineData("fe80::1", "fd00::/8", false)]
    [InlineData("10.1.2.3", "::/0", true)]
    [InlineData("2001:db8::1", "0.0.0.0/0", false)]
    public void ExemptRangesMatch(string address, string range, bool contains)
    {
        Assert.True(IpRange.TryParse(range, out var parsed, out _));
        Assert.True(IpKey.TryCreate(IPAddress.Parse(address), out var key));
        Assert.Equal(contains, parsed.Contains(key));
    }

    [Fact]
    public void IPv4AndItsMappedFormAreOneKey()
    {
        Assert.True(IpKey.TryCreate(IPAddress.Parse("192.0.2.1"), out var v4));
        Assert.True(IpKey.TryCreate(IPAddress.Parse("192.0.2.1").MapToIPv6(), out var mapped));
        Assert.Equal(v4, mapped);
        Assert.Equal("192.0.2.1", v4.ToString());
    }

    private static ConnectionVerdict AcquireAndRelease(PerIpConnectionTracker tracker, IpKey key)
    {
        var verdict = tracker.TryAcquire(key, out var entry);
        if (entry is not null)
        {
            PerIpConnectionTracker.Release(entry);
        }

        return verdict;
    }
}
