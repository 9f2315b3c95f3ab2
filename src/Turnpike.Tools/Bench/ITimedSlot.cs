namespace Turnpike.Tools.Bench;

/// <summary>A connection loop the run's watchdog can time out: it notes when its request started and can be aborted.</summary>
internal interface ITimedSlot
{
    /// <summary>Stopwatch timestamp of the request in flight, 0 when idle.</summary>
    long InFlightSince { get; }

    /// <summary>Closes the connection because its request took longer than the timeout.</summary>
    void AbortForTimeout();
}
