using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Http1.Client;

namespace Turnpike.Tests.Http1.Client;

/// <summary>
/// The raw engine's activity timeout on virtual time: a deadline on the connection that the cluster's activity sweep
/// checks (no timer per exchange) — it cancels the exchange once the deadline passed, never before, never after the
/// exchange ended, and a connection whose timeout fired is not reused.
/// </summary>
public sealed class Http1ActivityDeadlineTests
{
    private static (Http1ConnectionPool Cluster, Http1DestinationPool Pool, FakeTimeProvider Time) Create(TimeSpan activityTimeout)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T03:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var http = new UpstreamHttpConfig { ActivityTimeout = activityTimeout };
        var (cluster, pool) = TestPools.Create(http, time);
        return (cluster, pool, time);
    }

    [Fact]
    public void SweepCancelsTheExchangeOnlyAfterItsDeadline()
    {
        var (cluster, pool, time) = Create(TimeSpan.FromSeconds(4));
        var connection = pool.Create();
        connection.ArmActivity(time.GetTimestamp());
        var token = connection.ActivityToken;

        time.Advance(TimeSpan.FromSeconds(3.5)); // sweeps every second ran: not yet
        Assert.False(token.IsCancellationRequested);

        time.Advance(TimeSpan.FromSeconds(1)); // the sweep after the deadline fires it
        Assert.True(token.IsCancellationRequested);
        Assert.False(connection.DisarmActivity()); // fired: the connection is not reused
        pool.Close(connection);
        cluster.Dispose();
    }

    [Fact]
    public void RearmingPushesTheDeadlineBack()
    {
        var (cluster, pool, time) = Create(TimeSpan.FromSeconds(2));
        var connection = pool.Create();
        connection.ArmActivity(time.GetTimestamp());
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1.5));
            connection.ArmActivity(time.GetTimestamp()); // a body read arrived
        }

        Assert.False(connection.ActivityToken.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.True(connection.ActivityToken.IsCancellationRequested);
        pool.Close(connection);
        cluster.Dispose();
    }

    [Fact]
    public void DisarmedExchangeIsNeverCancelledAndTheConnectionIsReusable()
    {
        var (cluster, pool, time) = Create(TimeSpan.FromSeconds(1));
        var connection = pool.Create();
        connection.ArmActivity(time.GetTimestamp());
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(connection.DisarmActivity());
        pool.Return(connection);

        time.Advance(TimeSpan.FromSeconds(10)); // sweeps run over an idle connection
        Assert.False(connection.ActivityToken.IsCancellationRequested);
        pool.Close(connection);
        cluster.Dispose();
    }

    [Fact]
    public void ShortTimeoutIsSweptAtAQuarterOfIt()
    {
        var (cluster, pool, time) = Create(TimeSpan.FromMilliseconds(400));
        var connection = pool.Create();
        connection.ArmActivity(time.GetTimestamp());
        time.Advance(TimeSpan.FromMilliseconds(300));
        Assert.False(connection.ActivityToken.IsCancellationRequested);
        time.Advance(TimeSpan.FromMilliseconds(200)); // at most 100 ms late
        Assert.True(connection.ActivityToken.IsCancellationRequested);
        pool.Close(connection);
        cluster.Dispose();
    }
}
