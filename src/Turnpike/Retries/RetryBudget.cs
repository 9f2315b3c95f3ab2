using Turnpike.Configuration;
using Turnpike.Resilience;

namespace Turnpike.Retries;

/// <summary>
/// A cluster's retry budget, as Finagle's and Linkerd's: over a sliding window, retries may not exceed
/// <c>ratio × requests + minPerSecond × window</c>. Every request deposits, every retry that may have reached an
/// upstream withdraws; when the budget is spent the last answer goes to the client, so a failing cluster gets at most
/// ~ratio more load from retries, never a multiple of it. Lock-free (two counters in a <see cref="SlidingWindowCounter"/>).
/// </summary>
/// <remarks>Approximate under concurrency: two racing withdrawals can both pass the check, overshooting by at most
/// the number of requests retrying at the same instant.</remarks>
internal sealed class RetryBudget
{
    private const int RequestCounter = 0;
    private const int RetryCounter = 1;

    private readonly SlidingWindowCounter _window;
    private readonly double _ratio;
    private readonly double _reserve;

    public RetryBudget(RetryBudgetConfig config, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(config.Ratio);
        ArgumentOutOfRangeException.ThrowIfNegative(config.MinPerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(config.Window, TimeSpan.Zero);
        _window = new SlidingWindowCounter(time, config.Window, counters: 2);
        _ratio = config.Ratio;
        _reserve = config.MinPerSecond * config.Window.TotalSeconds;
    }

    /// <summary>Requests counted in the current window.</summary>
    public long Requests => _window.Sum(RequestCounter);

    /// <summary>Retries granted in the current window.</summary>
    public long Retries => _window.Sum(RetryCounter);

    /// <summary>Counts one request (not a retry) to the cluster.</summary>
    public void OnRequest() => _window.Add(RequestCounter);

    /// <summary>Takes one retry from the budget; false when the budget is spent (do not retry).</summary>
    public bool TryWithdraw()
    {
        var allowed = _ratio * _window.Sum(RequestCounter) + _reserve;
        if (_window.Sum(RetryCounter) + 1 > allowed)
        {
            return false;
        }

        _window.Add(RetryCounter);
        return true;
    }
}
