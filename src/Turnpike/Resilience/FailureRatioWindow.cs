namespace Turnpike.Resilience;

/// <summary>
/// Attempts and failures over a sliding window, and whether the failure share has reached a threshold once enough
/// attempts were seen. Shared by outlier detection's <c>failureRate</c> and the circuit breaker's <c>failureRatio</c>.
/// </summary>
internal sealed class FailureRatioWindow(TimeProvider time, TimeSpan window, double threshold, int minimumAttempts)
{
    private const int FailureCounter = 0;
    private const int AttemptCounter = 1;

    private readonly SlidingWindowCounter _counts = new(time, window, counters: 2);

    public TimeSpan Window => _counts.Window;

    public long Attempts => _counts.Sum(AttemptCounter);

    public long Failures => _counts.Sum(FailureCounter);

    public void AddAttempt() => _counts.Add(AttemptCounter);

    /// <summary>Counts a failure (its attempt counted already) and says whether the window now trips.</summary>
    public bool AddFailureAndCheck()
    {
        _counts.Add(FailureCounter);
        var attempts = _counts.Sum(AttemptCounter);
        return attempts >= minimumAttempts && _counts.Sum(FailureCounter) >= threshold * attempts;
    }

    public void Clear() => _counts.Clear();
}
