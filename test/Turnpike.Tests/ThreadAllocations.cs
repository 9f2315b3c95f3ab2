namespace Turnpike.Tests;

/// <summary>
/// Bytes allocated on the calling thread per call of an action, counted with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> (bytes, not time). The least of three batches: in CI runs with
/// the whole assembly running in parallel, a batch now and then saw one extra ~4 KB on the test thread that was not
/// the action's (a one-off, never per call), so a per-call allocation shows in every batch and a one-off in one.
/// </summary>
internal static class ThreadAllocations
{
    public static double PerCall(int calls, Action action)
    {
        for (int i = 0; i < 10; i++)
        {
            action();
        }

        long least = long.MaxValue;
        for (int batch = 0; batch < 3; batch++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < calls; i++)
            {
                action();
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least / (double)calls;
    }
}
