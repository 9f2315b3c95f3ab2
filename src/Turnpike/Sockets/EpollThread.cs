using System.Runtime.InteropServices;

namespace Turnpike.Sockets;

/// <summary>
/// One thread of the epoll engine: two epoll instances, an <c>epoll_wait</c> loop, and the table of the sockets
/// registered with it. Each socket is added once (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET); the event data is the
/// socket's slot in the table and the generation of that registration, never the fd, so an event of a closed socket
/// whose fd number (or slot) was reused reaches nobody. Completions run inline on this thread: nothing may block here.
/// <para>
/// Upstream connections go in a set of their own, which sits in the main set (client connections) as one
/// level-triggered entry. Each turn waits for at most <see cref="ClientBatch"/> events of the main set, then takes
/// every ready event of the upstream set (a poll without waiting) when the main set reported it or the batch was
/// full: answers from upstream, which finish work already begun, never queue behind every client's next request.
/// </para>
/// </summary>
internal sealed unsafe class EpollThread
{
    private const int MaxEvents = 256;

    /// <summary>The event data of the upstream set's own entry in the main set (no socket has it: slots are below 2^31).</summary>
    private const ulong UpstreamMarker = ulong.MaxValue;

    /// <summary>The event data of the io_uring batch's fd in the main set.</summary>
    private const ulong RingMarker = ulong.MaxValue - 1;

    /// <summary>
    /// At most this many events of the main set per turn of the loop, then the upstream set. Small, so that the
    /// upstream answer to a request is served a turn or two after the request, while that request's objects (client
    /// connection, context, upstream connection, kernel sockets) are still in cache: with one set and 256 events per
    /// wait, epoll's first-in first-out ready list put every other client connection's request between the two, and
    /// at 1000 connections all of them were cold. Measured on the e2e set-up with every variant running at once and
    /// the load alternating among them (2026-12-01, a busy host): CPU per request at 1000 connections 24.7 µs with
    /// 32, 27.8 with 64, 41.3 with one set (HAProxy 33.8); at 50 connections no change.
    /// </summary>
    internal const int ClientBatch = 32;
    private const uint Interest = EpollInterop.EpollIn | EpollInterop.EpollOut | EpollInterop.EpollRdHup | EpollInterop.EpollEt;

    [ThreadStatic]
    private static EpollThread? t_current;

    private readonly int _epoll;
    private readonly int _upstream;
    private readonly Lock _slotsLock = new();
    private readonly Stack<int> _free = new();
    private EpollSocket?[] _slots = new EpollSocket?[256];
    private int _used;
    private uint _generation;
    private int _registered;

    public EpollThread(int index)
    {
        Index = index;
        _epoll = EpollInterop.Create();
        _upstream = EpollInterop.Create();
        var error = EpollInterop.Add(_epoll, _upstream, EpollInterop.EpollIn, UpstreamMarker);
        if (error != 0)
        {
            throw new System.Net.Sockets.SocketException((int)SocketErrors.FromErrno(error));
        }

        var thread = new Thread(Loop) { IsBackground = true, Name = $"Epoll engine #{index}" };
        thread.UnsafeStart();
    }

    /// <summary>The engine thread the caller runs on, or null.</summary>
    public static EpollThread? Current => t_current;

    public int Index { get; }

    /// <summary>This thread's io_uring batch of receives, or null (set once, on the thread, before its first event).</summary>
    public IoUringBatch? Batch { get; private set; }

    /// <summary>Sockets registered now (tests: nothing leaks).</summary>
    public int Registered => Volatile.Read(ref _registered);

    /// <summary>Gives <paramref name="socket"/> a slot and adds its fd to the epoll set (once, edge-triggered).</summary>
    public void Add(EpollSocket socket, bool upstream = false)
    {
        int slot;
        uint generation;
        lock (_slotsLock)
        {
            if (!_free.TryPop(out slot))
            {
                slot = _used++;
                if (slot == _slots.Length)
                {
                    var bigger = new EpollSocket?[_slots.Length * 2];
                    Array.Copy(_slots, bigger, _slots.Length);
                    Volatile.Write(ref _slots, bigger);
                }
            }

            generation = ++_generation;
            socket.Slot = slot;
            socket.Generation = generation;
            Volatile.Write(ref _slots[slot], socket);
        }

        Interlocked.Increment(ref _registered);
        var error = EpollInterop.Add(upstream ? _upstream : _epoll, (int)socket.Fd, Interest, ((ulong)generation << 32) | (uint)slot);
        if (error != 0)
        {
            Remove(socket);
            throw new System.Net.Sockets.SocketException((int)SocketErrors.FromErrno(error));
        }
    }

    /// <summary>Frees the socket's slot (its fd is closed right after: the kernel drops it from the epoll set).</summary>
    public void Remove(EpollSocket socket)
    {
        lock (_slotsLock)
        {
            var slots = _slots;
            if (ReferenceEquals(slots[socket.Slot], socket))
            {
                Volatile.Write(ref slots[socket.Slot], null);
                _free.Push(socket.Slot);
                Interlocked.Decrement(ref _registered);
            }
        }
    }

    private void Loop()
    {
        t_current = this;
        Async.StateMachineBoxPool.UseEngineLocalCapacity(); // nearly every async box of its connections is rented and returned here
        var events = (byte*)NativeMemory.Alloc((nuint)(EpollInterop.EventSize * MaxEvents));
        var batch = SocketEngine.UseIoUring ? IoUringBatch.TryCreate() : null;
        if (batch is not null && EpollInterop.Add(_epoll, batch.Fd, EpollInterop.EpollIn, RingMarker) != 0)
        {
            batch = null; // not watched: a late completion would go unnoticed (the ring stays open, unused)
        }

        Batch = batch;

        while (true)
        {
            var n = EpollInterop.Wait(_epoll, events, ClientBatch);
            // A full batch may have left the upstream set's entry behind in the ready list: look anyway.
            var upstreamReady = Dispatch(events, n) | n == ClientBatch;
            if (upstreamReady)
            {
                Dispatch(events, EpollInterop.Poll(_upstream, events, MaxEvents));
            }

            batch?.Flush();
        }
    }

    /// <summary>Runs the completions of <paramref name="n"/> events; true when one was the upstream set's marker.</summary>
    private bool Dispatch(byte* events, int n)
    {
        var marker = false;
        var slots = Volatile.Read(ref _slots);
        for (var i = 0; i < n; i++)
        {
            var data = EpollInterop.DataAt(events, i);
            if (data == UpstreamMarker)
            {
                marker = true;
                continue;
            }

            if (data == RingMarker)
            {
                continue; // completions came after their submission: the flush after this turn reaps them
            }

            var slot = (int)(uint)data;
            if ((uint)slot >= (uint)slots.Length)
            {
                // Registered after this batch's table was read: read it again.
                slots = Volatile.Read(ref _slots);
                if ((uint)slot >= (uint)slots.Length)
                {
                    continue;
                }
            }

            var socket = Volatile.Read(ref slots[slot]);
            if (socket is not null && socket.Generation == (uint)(data >> 32))
            {
                socket.OnEvents(EpollInterop.EventsAt(events, i));
            }
        }

        return marker;
    }
}
