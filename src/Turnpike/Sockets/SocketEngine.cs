using System.Net.Sockets;

namespace Turnpike.Sockets;

/// <summary>
/// Which socket engine the raw HTTP/1.1 engines run their I/O on: Turnpike's own epoll engine (the default on Linux) or
/// .NET's <see cref="Socket"/> async operations (other systems, epoll unavailable, or
/// <c>TURNPIKE_SOCKET_ENGINE=dotnet</c>, the production switch). The epoll engine's threads start on first use:
/// <c>TURNPIKE_EPOLL_THREADS</c> of them (default: one per core the process may run on), sockets spread round robin,
/// except that a socket registered from an engine thread stays on that thread, and an upstream connection opened for a
/// client connection lives on the client's thread (<see cref="IEpollThreadAffinity"/>: no cross-thread wake-ups).
/// </summary>
internal static class SocketEngine
{
    public const string EngineVariable = "TURNPIKE_SOCKET_ENGINE";
    public const string ThreadsVariable = "TURNPIKE_EPOLL_THREADS";
    public const string IoUringVariable = "TURNPIKE_IO_URING";

    private static readonly Lazy<EpollThread[]> Threads = new(StartThreads);
    private static int _next;

    /// <summary>True when the raw engines use the epoll engine (an invalid setting: see <see cref="Validate"/>).</summary>
    public static bool UseEpoll { get; } = ChooseEpoll(Environment.GetEnvironmentVariable(EngineVariable), out _);

    /// <summary>
    /// Whether the epoll engine's threads batch their receives in an io_uring where the kernel allows it
    /// (<c>TURNPIKE_IO_URING</c>: on, the default, or off; an invalid setting: see <see cref="Validate"/>).
    /// </summary>
    public static bool UseIoUring { get; } = ChooseIoUring(Environment.GetEnvironmentVariable(IoUringVariable), out _);

    /// <summary>The engine's name for logs: "epoll+io_uring" (receives batched), "epoll" or "dotnet".</summary>
    public static string Name => !UseEpoll ? "dotnet" : UseIoUring && IoUringBatch.IsSupported ? "epoll+io_uring" : "epoll";

    /// <summary>Throws when <c>TURNPIKE_SOCKET_ENGINE</c> holds something else than <c>epoll</c> or <c>dotnet</c>, or <c>TURNPIKE_IO_URING</c> something else than <c>on</c> or <c>off</c> (raw listeners and raw clusters call it at start).</summary>
    public static void Validate()
    {
        ChooseEpoll(Environment.GetEnvironmentVariable(EngineVariable), out var error);
        if (error is null)
        {
            ChooseIoUring(Environment.GetEnvironmentVariable(IoUringVariable), out error);
        }

        if (error is not null)
        {
            throw new InvalidOperationException(error);
        }
    }

    /// <summary>The engine's thread count (starts the threads).</summary>
    public static int ThreadCount => Threads.Value.Length;

    /// <summary>Engine thread <paramref name="index"/> (tests; starts the threads).</summary>
    internal static EpollThread ThreadAt(int index) => Threads.Value[index];

    /// <summary>Sockets registered with the engine now (tests: nothing leaks).</summary>
    internal static int RegisteredSockets
    {
        get
        {
            if (!Threads.IsValueCreated)
            {
                return 0;
            }

            var total = 0;
            foreach (var thread in Threads.Value)
            {
                total += thread.Registered;
            }

            return total;
        }
    }

    /// <summary>epoll unless <paramref name="setting"/> says dotnet or epoll is not available; <paramref name="error"/> for anything else than epoll, dotnet or nothing.</summary>
    internal static bool ChooseEpoll(string? setting, out string? error)
    {
        error = null;
        if (string.Equals(setting, "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (!string.IsNullOrEmpty(setting) && !string.Equals(setting, "epoll", StringComparison.OrdinalIgnoreCase))
        {
            error = $"The environment variable {EngineVariable} is '{setting}': expected 'epoll' (the default on Linux) or 'dotnet'.";
        }

        return EpollInterop.IsSupported;
    }

    /// <summary>On unless <paramref name="setting"/> says off; <paramref name="error"/> for anything else than on, off or nothing.</summary>
    internal static bool ChooseIoUring(string? setting, out string? error)
    {
        error = null;
        if (string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (!string.IsNullOrEmpty(setting) && !string.Equals(setting, "on", StringComparison.OrdinalIgnoreCase))
        {
            error = $"The environment variable {IoUringVariable} is '{setting}': expected 'on' (the default: where the kernel allows it) or 'off'.";
        }

        return true;
    }

    /// <summary>
    /// Registers <paramref name="socket"/> (connected, or connecting without blocking) with the engine: once, for
    /// every edge. The caller must not use the socket's own async operations afterwards (a socket in both engines
    /// would wake .NET's epoll thread on every event).
    /// </summary>
    /// <param name="connecting">A non-blocking connect is in progress: not writable until its first EPOLLOUT.</param>
    /// <param name="upstream">An upstream connection: its events come in the thread's upstream set, served after at most one batch of client events.</param>
    /// <param name="thread">The engine thread to register with (an upstream connection: its client connection's); null: the calling engine thread, else round robin.</param>
    public static EpollSocket Register(Socket socket, bool connecting = false, bool upstream = false, EpollThread? thread = null)
    {
        thread ??= EpollThread.Current;
        if (thread is null)
        {
            var threads = Threads.Value;
            thread = threads[(int)((uint)Interlocked.Increment(ref _next) % (uint)threads.Length)];
        }

        var epollSocket = new EpollSocket(socket, thread);
        if (connecting)
        {
            epollSocket.MarkConnecting();
        }

        thread.Add(epollSocket, upstream);
        return epollSocket;
    }

    private static EpollThread[] StartThreads()
    {
        var count = Environment.ProcessorCount;
        if (int.TryParse(Environment.GetEnvironmentVariable(ThreadsVariable), out var configured) && configured > 0)
        {
            count = configured;
        }

        var threads = new EpollThread[count];
        for (var i = 0; i < count; i++)
        {
            threads[i] = new EpollThread(i);
        }

        return threads;
    }
}
