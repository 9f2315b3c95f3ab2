using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.ObjectPool;

namespace Turnpike.Http1.Server;

/// <summary>
/// The raw listener's request and response header dictionaries, rented when a request head starts to arrive and
/// returned (cleared) when the request has ended: a per-thread last-in-first-out stack, so the next request on the
/// engine thread gets the dictionaries the last one just warmed. With a dictionary pair per connection instead, each
/// request at a thousand keep-alive connections cleared and filled cold ones. An idle connection holds none.
/// One thread-static read per call; a dictionary rented on one thread and returned on another joins that thread's
/// stack. One beyond <see cref="Capacity"/> goes to a shared <see cref="DefaultObjectPool{T}"/> (up to as many again),
/// where a thread whose own stack is empty finds it: when requests start on one thread and end on another
/// (continuations on thread-pool threads, or a connection's first request), the returning thread's stack fills up and
/// the renting thread's stays empty, and without the shared pool every request allocated two new dictionaries. One beyond that too is left to the GC.
/// </summary>
internal sealed class HeaderDictionaryPool
{
    internal const int Capacity = 64;

    [ThreadStatic]
    private static HeaderDictionaryPool? t_current;

    /// <summary>Dictionaries beyond a thread's <see cref="Capacity"/>, for any thread whose stack is empty; it creates one when it holds none.</summary>
    private static readonly DefaultObjectPool<HeaderDictionary> s_shared = new(new DefaultPooledObjectPolicy<HeaderDictionary>(), Capacity);

    private readonly HeaderDictionary?[] _items = new HeaderDictionary?[Capacity];
    private int _count;

    public static HeaderDictionary Rent()
    {
        var pool = t_current;
        if (pool is not null && pool._count > 0)
        {
            var index = --pool._count;
            var dictionary = pool._items[index]!;
            pool._items[index] = null;
            return dictionary;
        }

        return s_shared.Get();
    }

    public static void Return(HeaderDictionary dictionary)
    {
        dictionary.Clear();
        var pool = t_current ??= new HeaderDictionaryPool();
        if (pool._count < Capacity)
        {
            pool._items[pool._count++] = dictionary;
        }
        else
        {
            s_shared.Return(dictionary);
        }
    }

    /// <summary>Dictionaries waiting on this thread (tests).</summary>
    internal static int CountOnThisThread => t_current?._count ?? 0;
}
