using Microsoft.Extensions.Time.Testing;
using Turnpike.Tools.Bench;

namespace Turnpike.Tests.Tools;

/// <summary>The event loop's send schedule (<see cref="PaceSchedule"/>) on virtual time.</summary>
public class PaceScheduleTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void Open_model_sends_each_slot_on_its_own_grid_and_sleeps_to_the_next_due_time()
    {
        var time = new FakeTimeProvider();
        var f = time.TimestampFrequency;
        var start = time.GetTimestamp();
        // 1000 req/s over 4 slots; this loop owns slots 1 and 3 (the other loop has 0 and 2).
        var schedule = new PaceSchedule(start, f, rate: 1000, totalSlots: 4, slots: [1, 3], batch: TimeSpan.Zero);
        Assert.True(schedule.IsOpenModel);
        Assert.False(schedule.IsDue(0, start));
        Assert.Equal(start + (1 * f / 1000), schedule.DueAt(0));
        Assert.Equal(start + (3 * f / 1000), schedule.DueAt(1));

        // Nothing is due at the start: the loop sleeps exactly until slot 1's time.
        Span<bool> idle = [true, true];
        Assert.Equal(f / 1000, schedule.WaitTicks(time.GetTimestamp(), idle, cap: f));

        // Slot 1 leaves on time at 1 ms, is answered at 1.5 ms; its next request is due 4 ms after the first.
        time.Advance(Ms);
        Assert.Equal(0, schedule.WaitTicks(time.GetTimestamp(), idle, cap: f));
        Assert.Equal(time.GetTimestamp(), schedule.MeasureFrom(0, time.GetTimestamp()));
        time.Advance(Ms / 2);
        schedule.Completed(0, time.GetTimestamp(), failed: false);
        Assert.Equal(start + (5 * f / 1000), schedule.DueAt(0));

        // Only slot 3 (due at 3 ms) is idle now: sleep 1.5 ms.
        idle[0] = false;
        Assert.Equal(3 * f / 2000, schedule.WaitTicks(time.GetTimestamp(), idle, cap: f));

        // The sleep is capped (the loop wakes up to check stop and timeouts).
        Assert.Equal(f / 10_000, schedule.WaitTicks(time.GetTimestamp(), idle, cap: f / 10_000));
    }

    [Fact]
    public void Open_model_times_a_late_request_from_its_intended_time()
    {
        var time = new FakeTimeProvider();
        var f = time.TimestampFrequency;
        var start = time.GetTimestamp();
        var schedule = new PaceSchedule(start, f, rate: 100, totalSlots: 1, slots: [0], batch: TimeSpan.Zero); // every 10 ms

        // Request 0 leaves at 0 and the server stalls for 1 s: requests 1..100 were due meanwhile.
        Assert.Equal(start, schedule.MeasureFrom(0, start));
        time.Advance(TimeSpan.FromSeconds(1));
        var now = time.GetTimestamp();
        schedule.Completed(0, now, failed: false);

        // Request 1 is 990 ms late: due at once, and timed from its slot (10 ms), not from now (the correction).
        Assert.Equal(start + (f / 100), schedule.DueAt(0));
        Span<bool> idle = [true];
        Assert.Equal(0, schedule.WaitTicks(now, idle, cap: f));
        Assert.Equal(start + (f / 100), schedule.MeasureFrom(0, now));

        // The late requests go back to back until the schedule is caught up; the rate is unchanged afterwards.
        for (var k = 2; k <= 100; k++)
        {
            schedule.Completed(0, now, failed: false);
            Assert.Equal(start + (k * f / 100), schedule.MeasureFrom(0, now));
        }

        schedule.Completed(0, now, failed: false);
        Assert.Equal(start + (101 * f / 100), schedule.DueAt(0));
        Assert.Equal(f / 100, schedule.WaitTicks(now, idle, cap: f));
    }

    [Fact]
    public void An_awake_loop_sends_requests_due_within_the_batch_window_and_times_them_from_the_actual_send()
    {
        var time = new FakeTimeProvider();
        var f = time.TimestampFrequency;
        var start = time.GetTimestamp();
        var schedule = new PaceSchedule(start, f, rate: 1000, totalSlots: 4, slots: [1, 3]); // default window: 1 ms
        Assert.Equal(f / 1000, schedule.BatchTicks);

        // Awake at 0.5 ms (an answer arrived): slot 1 (due at 1 ms) may go now, slot 3 (due at 3 ms) may not.
        time.Advance(Ms / 2);
        var now = time.GetTimestamp();
        Assert.True(schedule.IsDue(0, now));
        Assert.False(schedule.IsDue(1, now));

        // The early request is timed from its actual send: it waited for nothing.
        Assert.Equal(now, schedule.MeasureFrom(0, now));

        // Asleep, the loop still wakes at the due time itself (1 ms), not at the start of the window.
        Span<bool> idle = [false, true];
        Assert.Equal(5 * f / 2000, schedule.WaitTicks(now, idle, cap: f));

        // Its next request keeps its own slot on the schedule (5 ms): the rate does not drift.
        schedule.Completed(0, now, failed: false);
        Assert.Equal(start + (5 * f / 1000), schedule.DueAt(0));

        // The closed model has no window.
        Assert.Equal(0, new PaceSchedule(start, f, rate: null, totalSlots: 1, slots: [0]).BatchTicks);
    }

    [Fact]
    public void Errors_keep_the_open_schedule_and_pause_the_closed_model()
    {
        var time = new FakeTimeProvider();
        var f = time.TimestampFrequency;
        var start = time.GetTimestamp();

        var open = new PaceSchedule(start, f, rate: 1000, totalSlots: 1, slots: [0]);
        open.Completed(0, start, failed: true);
        Assert.Equal(start + (f / 1000), open.DueAt(0)); // an error costs its slot, not more

        var closed = new PaceSchedule(start, f, rate: null, totalSlots: 2, slots: [0, 1]);
        Assert.False(closed.IsOpenModel);
        Assert.Equal(start, closed.DueAt(1));
        time.Advance(Ms * 3);
        var now = time.GetTimestamp();
        Assert.Equal(now, closed.MeasureFrom(0, now)); // closed model: from the actual send
        closed.Completed(0, now, failed: false);
        Assert.Equal(now, closed.DueAt(0)); // next request at once
        closed.Completed(1, now, failed: true);
        Assert.Equal(now + (f / 100), closed.DueAt(1)); // 10 ms after an error
        Span<bool> idle = [false, true];
        Assert.Equal(f / 100, closed.WaitTicks(now, idle, cap: f));
    }
}
