using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Turnpike.Async;

/// <summary>
/// An async method builder for <see cref="ValueTask{TResult}"/> methods on the request path whose state machine boxes
/// come from a pool per state machine type (<see cref="StateMachineBox{TResult, TStateMachine}"/>: a free list per
/// thread, a shared lock-free queue behind it). The
/// runtime's <see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/> keeps one box per thread and one per core, so
/// with 50 connections in flight nearly every request misses it and allocates a box per async method; here a box is
/// reused by whichever request comes next, up to <see cref="StateMachineBoxPool.Capacity"/> boxes per method.
/// A method that completes synchronously uses no box. As with any pooled <see cref="ValueTask"/>, the result must be
/// awaited (or read) exactly once.
/// </summary>
public struct PooledValueTaskMethodBuilder<TResult>
{
    private IStateMachineBox<TResult>? _box;
    private TResult _result;
    private Exception? _exception;

    internal readonly IStateMachineBox<TResult>? Box => _box;

    internal readonly Exception? Exception => _exception;

    public static PooledValueTaskMethodBuilder<TResult> Create() => default;

    public readonly ValueTask<TResult> Task =>
        _box is { } box ? new ValueTask<TResult>(box, box.Version)
        : _exception is { } exception ? ValueTask.FromException<TResult>(exception)
        : new ValueTask<TResult>(_result);

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        default(AsyncTaskMethodBuilder).Start(ref stateMachine); // runs MoveNext with the caller's contexts restored after

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult(TResult result)
    {
        if (_box is { } box)
        {
            box.SetResult(result);
            return;
        }

        _result = result;
    }

    public void SetException(Exception exception)
    {
        if (_box is { } box)
        {
            box.SetException(exception);
            return;
        }

        _exception = exception;
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    private IStateMachineBox<TResult> BoxFor<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var context = ExecutionContext.Capture();
        if (_box is StateMachineBox<TResult, TStateMachine> existing)
        {
            existing.Context = context;
            return existing;
        }

        // First await: the box is set on this builder before the state machine (which holds the builder) is copied
        // into it, so the copy that runs from now on knows its box.
        var box = StateMachineBox<TResult, TStateMachine>.Rent();
        _box = box;
        box.Context = context;
        box.StateMachine = stateMachine;
        return box;
    }
}

/// <summary>The non-generic <see cref="ValueTask"/> form of <see cref="PooledValueTaskMethodBuilder{TResult}"/>.</summary>
public struct PooledValueTaskMethodBuilder
{
    private PooledValueTaskMethodBuilder<VoidResult> _inner;

    public static PooledValueTaskMethodBuilder Create() => default;

    public readonly ValueTask Task =>
        _inner.Box is { } box ? new ValueTask(box, box.Version)
        : _inner.Exception is { } exception ? ValueTask.FromException(exception)
        : default;

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        default(AsyncTaskMethodBuilder).Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult() => _inner.SetResult(default);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}

/// <summary>The result type of a <see cref="ValueTask"/> method's box.</summary>
public readonly struct VoidResult;

/// <summary>What the builders need of a box, whatever its state machine type.</summary>
internal interface IStateMachineBox<TResult> : IValueTaskSource<TResult>, IValueTaskSource
{
    short Version { get; }

    Action MoveNextAction { get; }

    void SetResult(TResult result);

    void SetException(Exception exception);
}

/// <summary>The pool bounds shared by every state machine type, and the default execution context.</summary>
internal static class StateMachineBoxPool
{
    /// <summary>Boxes kept per state machine type in the shared overflow queue.</summary>
    public const int Capacity = 2048;

    /// <summary>
    /// Boxes kept per state machine type on each thread's own free list. On a socket engine thread
    /// (<see cref="UseEngineLocalCapacity"/>: all completions of its connections run there, so nearly every rent and
    /// return happens on it) enough for a thousand requests in flight; elsewhere (thread-pool threads, where a box is
    /// often returned on another thread than the one that rented it) a few, the rest going to the shared queue, so boxes
    /// do not pile up on threads that do not rent them.
    /// </summary>
    public const int EngineLocalCapacity = 1024;

    /// <summary>The free list bound on other threads.</summary>
    public const int DefaultLocalCapacity = 16;

    private static int s_types;

    /// <summary>This thread's free list bound per state machine type.</summary>
    public static int LocalCapacity => BoxFreeLists.Current.Capacity;

    /// <summary>Called by a socket engine thread when it starts: larger free lists on it.</summary>
    public static void UseEngineLocalCapacity() => BoxFreeLists.Current.Capacity = EngineLocalCapacity;

    /// <summary>A new index into every thread's <see cref="BoxFreeLists"/>, one per state machine box type.</summary>
    public static int NextTypeIndex() => Interlocked.Increment(ref s_types) - 1;

    /// <summary>
    /// The runtime's default execution context (no AsyncLocal values, flow not suppressed): what
    /// <see cref="ExecutionContext.Capture"/> returns on a thread that never set an AsyncLocal. Captured once on a thread
    /// started without the creator's context.
    /// </summary>
    public static readonly ExecutionContext? Default = CaptureDefault();

    private static ExecutionContext? CaptureDefault()
    {
        ExecutionContext? captured = null;
        var thread = new Thread(() => captured = ExecutionContext.Capture()) { IsBackground = true, Name = "Turnpike default context" };
        thread.UnsafeStart();
        thread.Join();
        return captured;
    }
}

/// <summary>
/// One suspended async method: its state machine, the execution context to resume it in, and the completion source
/// its awaiter reads. Rented from the current thread's free list (a singly linked list in its <see cref="BoxFreeLists"/>, no
/// synchronization), else from a per-type <see cref="ConcurrentQueue{T}"/> that takes what a thread's list has no
/// room for; returned when its result has been read. A method suspended and resumed in the default execution context
/// runs without <see cref="ExecutionContext.Run"/> (as the runtime's own boxes do): the thread's context is put back
/// to the default afterwards if the method left AsyncLocal values on it.
/// </summary>
internal sealed class StateMachineBox<TResult, TStateMachine> : IStateMachineBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    private static readonly ConcurrentQueue<StateMachineBox<TResult, TStateMachine>> Pool = new();
    private static readonly ContextCallback RunInContext = static state => ((StateMachineBox<TResult, TStateMachine>)state!).StateMachine.MoveNext();
    private static readonly int TypeIndex = StateMachineBoxPool.NextTypeIndex();
    private static int s_pooled;

    private ManualResetValueTaskSourceCore<TResult> _core; // continuations run inline, as the runtime's pooling boxes do
    private StateMachineBox<TResult, TStateMachine>? _next;

    public TStateMachine StateMachine = default!;

    public ExecutionContext? Context;

    private StateMachineBox() => MoveNextAction = MoveNext;

    public Action MoveNextAction { get; }

    public short Version => _core.Version;

    public static StateMachineBox<TResult, TStateMachine> Rent()
    {
        // One thread-static read per rent (each costs a __tls_get_addr call from JIT'd code on Linux).
        var lists = BoxFreeLists.Current.Lists;
        var index = TypeIndex;
        if ((uint)index < (uint)lists.Length && lists[index].Head is { } first)
        {
            ref var list = ref lists[index];
            var head = Unsafe.As<StateMachineBox<TResult, TStateMachine>>(first); // only boxes of this type are listed here
            list.Head = head._next;
            list.Count--;
            head._next = null;
            return head;
        }

        if (Volatile.Read(ref s_pooled) > 0 && Pool.TryDequeue(out var box))
        {
            Interlocked.Decrement(ref s_pooled);
            return box;
        }

        return new StateMachineBox<TResult, TStateMachine>();
    }

    private void MoveNext()
    {
        var context = Context;
        if (context is null)
        {
            // Flow was suppressed when the method suspended.
            StateMachine.MoveNext();
        }
        else if (ReferenceEquals(context, StateMachineBoxPool.Default) && ReferenceEquals(ExecutionContext.Capture(), context))
        {
            // Default context then and now: nothing to switch. This box may be back in the pool once MoveNext returns.
            StateMachine.MoveNext();
            if (!ReferenceEquals(ExecutionContext.Capture(), context))
            {
                ExecutionContext.Restore(context);
            }
        }
        else
        {
            ExecutionContext.Run(context, RunInContext, this);
        }
    }

    public void SetResult(TResult result) => _core.SetResult(result);

    public void SetException(Exception exception) => _core.SetException(exception);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public TResult GetResult(short token)
    {
        if (token != _core.Version)
        {
            throw new InvalidOperationException("A pooled ValueTask was awaited twice or after its box was reused.");
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Return();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    private void Return()
    {
        _core.Reset();
        StateMachine = default!;
        Context = null;
        var owner = BoxFreeLists.Current;
        var lists = owner.Lists;
        var index = TypeIndex;
        if ((uint)index >= (uint)lists.Length)
        {
            lists = owner.Grow(index);
        }

        ref var list = ref lists[index];
        if (list.Count < owner.Capacity)
        {
            _next = list.Head is { } head ? Unsafe.As<StateMachineBox<TResult, TStateMachine>>(head) : null;
            list.Head = this;
            list.Count++;
            return;
        }

        if (Interlocked.Increment(ref s_pooled) <= StateMachineBoxPool.Capacity)
        {
            Pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }
    }
}

/// <summary>
/// One thread's free lists of state machine boxes, one per box type (indexed by
/// <see cref="StateMachineBoxPool.NextTypeIndex"/>): a single thread-static read finds the list of any type.
/// </summary>
internal sealed class BoxFreeLists
{
    [ThreadStatic]
    private static BoxFreeLists? t_current;

    /// <summary>Heads and lengths, by box type index; grown (on this thread only) when a new type returns a box.</summary>
    public FreeList[] Lists = new FreeList[32];

    /// <summary>The bound per box type on this thread.</summary>
    public int Capacity = StateMachineBoxPool.DefaultLocalCapacity;

    public static BoxFreeLists Current => t_current ?? Create();

    public FreeList[] Grow(int index)
    {
        var bigger = new FreeList[Math.Max(index + 1, Lists.Length * 2)];
        Lists.CopyTo(bigger, 0);
        Lists = bigger;
        return bigger;
    }

    private static BoxFreeLists Create() => t_current = new BoxFreeLists();

    public struct FreeList
    {
        public object? Head;
        public int Count;
    }
}
