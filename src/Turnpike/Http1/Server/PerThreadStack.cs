namespace Turnpike.Http1.Server;

/// <summary>
/// A last-in-first-out stack of spare <typeparamref name="T"/> per thread (one thread-static read per call, at most
/// <see cref="Capacity"/> deep): what the raw listener rents per request from it is what the last request on the
/// engine thread just warmed. An object pushed on another thread than it was popped on joins that thread's stack; one
/// beyond the capacity is left to the GC.
/// </summary>
internal sealed class PerThreadStack<T>
    where T : class
{
    internal const int Capacity = 64;

    [ThreadStatic]
    private static PerThreadStack<T>? t_current;

    private readonly T?[] _items = new T?[Capacity];
    private int _count;

    /// <summary>The last pushed on this thread, or null.</summary>
    public static T? Pop()
    {
        var stack = t_current;
        if (stack is null || stack._count == 0)
        {
            return null;
        }

        var index = --stack._count;
        var item = stack._items[index];
        stack._items[index] = null;
        return item;
    }

    public static void Push(T item)
    {
        var stack = t_current ??= new PerThreadStack<T>();
        if (stack._count < Capacity)
        {
            stack._items[stack._count++] = item;
        }
    }

    /// <summary>Spares waiting on this thread (tests).</summary>
    internal static int CountOnThisThread => t_current?._count ?? 0;
}
