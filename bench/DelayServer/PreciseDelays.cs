using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Turnpike.Bench.DelayServer;

/// <summary>
/// Delays with ~0.1 ms precision for the service times of <see cref="DelayTarget"/>. Task.Delay is not usable here:
/// .NET timers run on a coarse clock (Environment.TickCount64, the kernel tick: up to 4 ms on Linux), so a 2 ms
/// Task.Delay takes anything from ~0 to 5 ms. One thread keeps the pending delays in a heap and sleeps with
/// nanosleep until the earliest is due, but never longer than half the shortest delay: a request that arrives during
/// a sleep is due at least that much later, so it is never released late because of the sleep.
/// </summary>
public sealed partial class PreciseDelays : IDisposable
{
    private readonly PriorityQueue<TaskCompletionSource, long> _pending = new();
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _work = new(0);
    private readonly long _maxSleepTicks;
    private volatile bool _stopped;

    public PreciseDelays(TimeSpan shortest)
    {
        _maxSleepTicks = Math.Max((long)(shortest.TotalSeconds * Stopwatch.Frequency / 2), Stopwatch.Frequency / 20_000);
        new Thread(Run) { IsBackground = true, Name = "precise delays" }.Start();
    }

    /// <summary>Completes (on the thread pool) once <paramref name="delay"/> has passed.</summary>
    public Task DelayAsync(TimeSpan delay)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        bool wasEmpty;
        lock (_lock)
        {
            wasEmpty = _pending.Count == 0;
            _pending.Enqueue(tcs, due);
        }

        if (wasEmpty)
        {
            _work.Release();
        }

        return tcs.Task;
    }

    private void Run()
    {
        while (!_stopped)
        {
            long sleep;
            lock (_lock)
            {
                var now = Stopwatch.GetTimestamp();
                while (_pending.TryPeek(out var tcs, out var due) && due <= now)
                {
                    _pending.Dequeue();
                    tcs.TrySetResult();
                }

                sleep = _pending.TryPeek(out _, out var next) ? Math.Min(next - now, _maxSleepTicks) : -1;
            }

            if (sleep < 0)
            {
                _work.Wait(100);
                continue;
            }

            var nanos = sleep * 1_000_000_000 / Stopwatch.Frequency;
            var ts = new Timespec { Seconds = nanos / 1_000_000_000, Nanoseconds = nanos % 1_000_000_000 };
            if (!OperatingSystem.IsLinux() || NanoSleep(ref ts, 0) != 0)
            {
                Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, nanos / 100)));
            }
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _work.Release();
    }

    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(ref Timespec request, nint remaining);
}
