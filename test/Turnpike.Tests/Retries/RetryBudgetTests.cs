using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Retries;

namespace Turnpike.Tests.Retries;

public sealed class RetryBudgetTests
{
    private static int WithdrawAll(RetryBudget budget, int tries = 10_000)
    {
        var granted = 0;
        for (var i = 0; i < tries && budget.TryWithdraw(); i++)
        {
            granted++;
        }

        return granted;
    }

    [Fact]
    public void RetriesAreCappedAtTheRatioOfRequests()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(new RetryBudgetConfig { Ratio = 0.2, MinPerSecond = 0, Window = TimeSpan.FromSeconds(10) }, time);
        for (var i = 0; i < 100; i++)
        {
            budget.OnRequest();
        }

        Assert.Equal(20, WithdrawAll(budget));
        Assert.Equal(100, budget.Requests);
        Assert.Equal(20, budget.Retries);

        // Five more requests earn one more retry.
        for (var i = 0; i < 5; i++)
        {
            budget.OnRequest();
        }

        Assert.Equal(1, WithdrawAll(budget));
    }

    [Fact]
    public void MinimumPerSecondIsAReserveOverTheWindow()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(new RetryBudgetConfig { Ratio = 0.2, MinPerSecond = 3, Window = TimeSpan.FromSeconds(10) }, time);

        // No traffic at all: the reserve (3/s × 10 s) still allows 30 retries.
        Assert.Equal(30, WithdrawAll(budget));

        // Ten requests add 20 % on top of the reserve.
        for (var i = 0; i < 10; i++)
        {
            budget.OnRequest();
        }

        Assert.Equal(2, WithdrawAll(budget));
    }

    [Fact]
    public void SpentBudgetRecoversWhenTheWindowMovesOn()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(new RetryBudgetConfig { Ratio = 0.5, MinPerSecond = 0, Window = TimeSpan.FromSeconds(10) }, time);
        for (var i = 0; i < 10; i++)
        {
            budget.OnRequest();
        }

        Assert.Equal(5, WithdrawAll(budget));

        // Half a window later the old retries still count; new requests earn only their own share.
        time.Advance(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 4; i++)
        {
            budget.OnRequest();
        }

        Assert.Equal(2, WithdrawAll(budget));

        // Once the first slice has left the window, its requests and retries are both forgotten.
        time.Advance(TimeSpan.FromSeconds(5.5));
        Assert.Equal(4, budget.Requests);
        Assert.Equal(2, budget.Retries);
        Assert.Equal(0, WithdrawAll(budget));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, budget.Requests);
        Assert.Equal(0, budget.Retries);
    }

    [Fact]
    public void ZeroRatioAndZeroMinimumNeverRetries()
    {
        var budget = new RetryBudget(new RetryBudgetConfig { Ratio = 0, MinPerSecond = 0 }, new FakeTimeProvider());
        for (var i = 0; i < 1000; i++)
        {
            budget.OnRequest();
        }

        Assert.False(budget.TryWithdraw());
    }

    [Fact]
    public void DefaultsAreLinkerds()
    {
        var config = new RetryBudgetConfig();
        Assert.Equal((0.2, 10, TimeSpan.FromSeconds(10)), (config.Ratio, config.MinPerSecond, config.Window));
        var budget = new RetryBudget(config, new FakeTimeProvider());
        Assert.Equal(100, WithdrawAll(budget));
    }
}
