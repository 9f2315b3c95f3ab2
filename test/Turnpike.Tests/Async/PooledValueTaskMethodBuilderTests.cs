using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Turnpike.Async;

namespace Turnpike.Tests.Async;

public sealed class PooledValueTaskMethodBuilderTests
{
    private static readonly AsyncLocal<string?> Ambient = new();
    private object? _sink;
    private int _total;

    /// <summary>An awaitable the test completes by hand (a reusable source, so waiting allocates nothing of its own).</summary>
    private sealed class Gate : IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public ValueTask<int> WaitAsync() => new(this, _core.Version);

        public void Open(int value) => _core.SetResult(value);

        public void Fail(Exception exception) => _core.SetException(exception);

        public int GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AddAsync(Gate? gate, int add)
    {
        var value = gate is null ? 0 : await gate.WaitAsync().ConfigureAwait(false);
        return value + add + (Ambient.Value == "flowed" ? 1000 : 0);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<int> SubtractAsync(Gate gate, int subtract)
    {
        var value = await gate.WaitAsync().ConfigureAwait(false);
        return value - subtract;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<int> SetAmbientAfterAsync(Gate gate)
    {
        var value = await gate.WaitAsync().ConfigureAwait(false);
        Ambient.Value = "set by the resumed method";
        return value;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    private static async ValueTask ThrowAfterAsync(Gate gate)
    {
        await gate.WaitAsync().ConfigureAwait(false);
        throw new InvalidOperationException("boom");
    }

    /// <summary>The result of a completed ValueTask (reading it hands a box back).</summary>
    private static int Read(ValueTask<int> task) => task.GetAwaiter().GetResult();

    [Fact]
    public void SynchronousCompletionNeedsNoBox()
    {
        var task = AddAsync(null, 2);
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(2, Read(task));
    }

    [Fact]
    public async Task AsynchronousCompletionDeliversTheResultAndFlowsTheExecutionContext()
    {
        var gate = new Gate();
        Ambient.Value = "flowed";
        var pending = AddAsync(gate, 2);
        Ambient.Value = null;
        Assert.False(pending.IsCompleted);
        gate.Open(40);
        Assert.Equal(1042, await pending);
        Assert.Null(Ambient.Value); // the resumed method's context did not leak into the caller's
    }

    [Fact]
    public void AMethodResumedInTheDefaultContextLeavesNoAsyncLocalOnTheResumingThread()
    {
        // Suspended and resumed on threads with the default context (the epoll engine thread's case): the box skips
        // ExecutionContext.Run, and must still put the resuming thread's context back.
        var gate = new Gate();
        ValueTask<int> pending = default;
        string? seenAfterResume = "unset";
        var thread = new Thread(() =>
        {
            pending = SetAmbientAfterAsync(gate);
            gate.Open(7);
            seenAfterResume = Ambient.Value;
        });
        thread.UnsafeStart();
        thread.Join();
        Assert.Null(seenAfterResume);
        Assert.Equal(7, Read(pending));
    }

    [Fact]
    public async Task ExceptionsReachTheAwaiter()
    {
        var gate = new Gate();
        var pending = ThrowAfterAsync(gate);
        gate.Open(1);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pending);
    }

    [Fact]
    public void BoxesAreReusedAcrossCalls()
    {
        var gate = new Gate();
        var perCall = ThreadAllocations.PerCall(1000, () =>
        {
            var pending = AddAsync(gate, 1);
            gate.Open(1);
            _ = Read(pending); // hands the box back
        });
        // In Debug builds the compiler makes the state machine a class, allocated per call; in Release a struct, kept in the box.
        var stateMachine = typeof(PooledValueTaskMethodBuilderTests).GetNestedTypes(System.Reflection.BindingFlags.NonPublic).Single(t => t.Name.Contains("<AddAsync>", StringComparison.Ordinal));
        var machine = stateMachine.IsValueType ? 0 : ThreadAllocations.PerCall(1000, () => _sink = Activator.CreateInstance(stateMachine));
        Assert.Equal(machine, perCall, 0.5);
    }

    [Fact]
    public void AReusedBoxRefusesAStaleToken()
    {
        var gate = new Gate();
        var first = AddAsync(gate, 1);
        gate.Open(1);
        Assert.Equal(2, Read(first));
        var second = AddAsync(gate, 1); // the same box, next version
        Assert.ThrowsAny<InvalidOperationException>(() => Read(first));
        gate.Open(1);
        Assert.Equal(2, Read(second));
    }

    [Fact]
    public void TwoMethodsSuspendedTogetherEachReuseTheirOwnBoxes()
    {
        // Both boxes are out at once and come back in the other order: each type has its own free list on this thread.
        var first = new Gate();
        var second = new Gate();
        var perCall = ThreadAllocations.PerCall(1000, () =>
        {
            var adding = AddAsync(first, 1);
            var subtracting = SubtractAsync(second, 1);
            second.Open(5);
            first.Open(1);
            _total = Read(subtracting) + Read(adding);
        });
        var machines = typeof(PooledValueTaskMethodBuilderTests).GetNestedTypes(System.Reflection.BindingFlags.NonPublic)
            .Where(t => t.Name.Contains("<AddAsync>", StringComparison.Ordinal) || t.Name.Contains("<SubtractAsync>", StringComparison.Ordinal))
            .ToArray();
        Assert.Equal(2, machines.Length);
        var machine = machines.Sum(t => t.IsValueType ? 0 : ThreadAllocations.PerCall(1000, () => _sink = Activator.CreateInstance(t)));
        Assert.Equal(machine, perCall, 0.5);
        Assert.Equal(6, _total);
    }

    [Fact]
    public void AThreadsFreeListsGrowForALaterBoxType()
    {
        var lists = new BoxFreeLists();
        var before = lists.Lists.Length;
        var grown = lists.Grow(before + 5);
        Assert.Same(grown, lists.Lists);
        Assert.True(grown.Length > before + 5);
        Assert.Equal(StateMachineBoxPool.DefaultLocalCapacity, lists.Capacity);
    }
}
