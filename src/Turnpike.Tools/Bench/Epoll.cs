using System.Runtime.InteropServices;

namespace Turnpike.Tools.Bench;

/// <summary>
/// The Linux epoll, send and recv calls the HTTP/1.1 event loop needs (<see cref="Http1EventLoop"/>), as source-generated P/Invokes
/// (Native AOT safe). <c>struct epoll_event</c> is packed (12 bytes) on x86-64 and 16 bytes elsewhere, so events are
/// read from a raw buffer at <see cref="EventSize"/> strides.
/// </summary>
internal static unsafe partial class Epoll
{
    public const uint In = 0x001;
    public const uint Out = 0x004;
    public const uint Err = 0x008;
    public const uint Hup = 0x010;
    public const int CtlAdd = 1;
    public const int CtlMod = 3;
    private const int CloExec = 0x80000;
    public const int EAgain = 11;
    private const int EIntr = 4;
    private const int MsgNoSignal = 0x4000;
    private const int ENoSys = 38;
    private const string Libc = "libc";

    private static int _noPwait2;

    public static int EventSize { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static int DataOffset => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>True where the loop can run: Linux, and epoll_create1 answers.</summary>
    public static bool IsSupported { get; } = Probe();

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            var fd = Create1(CloExec);
            if (fd < 0)
            {
                return false;
            }

            _ = Close(fd);
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    public static int Create()
    {
        var fd = Create1(CloExec);
        return fd >= 0 ? fd : throw new InvalidOperationException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Registers (or changes) <paramref name="fd"/> for <paramref name="events"/>, tagged with <paramref name="data"/>.</summary>
    public static void Control(int epfd, int op, int fd, uint events, int data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = (ulong)data;
        if (Ctl(epfd, op, fd, ev) != 0)
        {
            throw new InvalidOperationException($"epoll_ctl failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutNanos"/> (0: poll) for events into <paramref name="events"/>; returns how
    /// many (0 on timeout or signal). epoll_pwait2 (Linux 5.11) has nanosecond timeouts; older kernels fall back to
    /// epoll_wait, rounded up to the next millisecond.
    /// </summary>
    public static int Wait(int epfd, byte* events, int max, long timeoutNanos)
    {
        int n;
        if (Volatile.Read(ref _noPwait2) == 0)
        {
            Timespec ts;
            ts.Seconds = timeoutNanos / 1_000_000_000;
            ts.Nanoseconds = timeoutNanos % 1_000_000_000;
            try
            {
                n = PWait2(epfd, events, max, &ts, 0);
            }
            catch (EntryPointNotFoundException)
            {
                Volatile.Write(ref _noPwait2, 1);
                return 0;
            }

            if (n >= 0)
            {
                return n;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == ENoSys)
            {
                Volatile.Write(ref _noPwait2, 1);
                return 0;
            }

            return errno == EIntr ? 0 : throw new InvalidOperationException($"epoll_pwait2 failed: errno {errno}");
        }

        n = WaitMs(epfd, events, max, (int)Math.Min(int.MaxValue, (timeoutNanos + 999_999) / 1_000_000));
        if (n >= 0)
        {
            return n;
        }

        var error = Marshal.GetLastPInvokeError();
        return error == EIntr ? 0 : throw new InvalidOperationException($"epoll_wait failed: errno {error}");
    }

    public static uint EventsAt(byte* events, int index) => *(uint*)(events + (index * EventSize));

    public static int DataAt(byte* events, int index) => (int)*(ulong*)(events + (index * EventSize) + DataOffset);

    public static void CloseFd(int fd) => _ = Close(fd);

    /// <summary>
    /// send(2) on a non-blocking socket (no SIGPIPE): bytes sent, or −errno (−<see cref="EAgain"/>: the buffer is
    /// full). Straight to libc: Socket.Send adds a SafeHandle reference count and two shim layers per call, which the
    /// event loop does not need — it alone owns and closes its sockets.
    /// </summary>
    public static int Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            while (true)
            {
                var n = SendRaw(fd, p, data.Length, MsgNoSignal);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EIntr)
                {
                    return -errno;
                }
            }
        }
    }

    /// <summary>recv(2) on a non-blocking socket: bytes read (0: the peer closed), or −errno (−<see cref="EAgain"/>: nothing yet).</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = ReceiveRaw(fd, p, buffer.Length, 0);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != EIntr)
                {
                    return -errno;
                }
            }
        }
    }

    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int Create1(int flags);

    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int Ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int WaitMs(int epfd, byte* events, int max, int timeoutMs);

    [LibraryImport(Libc, EntryPoint = "epoll_pwait2", SetLastError = true)]
    private static partial int PWait2(int epfd, byte* events, int max, Timespec* timeout, nint sigmask);

    [LibraryImport(Libc, EntryPoint = "send", SetLastError = true)]
    private static partial nint SendRaw(int fd, byte* buffer, nint length, int flags);

    [LibraryImport(Libc, EntryPoint = "recv", SetLastError = true)]
    private static partial nint ReceiveRaw(int fd, byte* buffer, nint length, int flags);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
