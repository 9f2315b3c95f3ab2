using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Turnpike.Sockets;

/// <summary>
/// The Linux calls of the epoll engine as source-generated P/Invokes (Native AOT safe): epoll_create1, epoll_ctl,
/// epoll_wait, and recv/send straight to libc (no SafeHandle, shim or errno translation layer in between).
/// <c>struct epoll_event</c> is packed (12 bytes) on x86-64 and 16 bytes elsewhere: events are read at
/// <see cref="EventSize"/> strides.
/// </summary>
internal static unsafe partial class EpollInterop
{
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 0x80000000;
    public const int CtlAdd = 1;
    public const int EAgain = 11;
    public const int EIntr = 4;
    public const int EBadF = 9;
    public const int ECanceled = 125;

    /// <summary>MSG_DONTWAIT | MSG_NOSIGNAL: accepted sockets are blocking at the OS level, and a closed peer must not raise SIGPIPE.</summary>
    private const int Flags = 0x40 | 0x4000;
    private const int CloExec = 0x80000;
    private const string Libc = "libc";

    /// <summary>
    /// recvfrom/sendto through syscall(2) where their numbers are known (x86-64, arm64): libc's recv/send are
    /// cancellation points and wrap each call in pthread_enable/disable_asynccancel; syscall(2) is not one.
    /// </summary>
    private static readonly bool s_direct = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    private static readonly nint s_sysRecvFrom = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 45 : 207;

    private static readonly nint s_sysSendTo = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 44 : 206;

    public static int EventSize { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static int DataOffset { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>True where the engine can run: Linux, and epoll_create1 answers.</summary>
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
            // Bind the recv/send entry points now (on fd −1: EBADF), so their first real call cannot throw
            // (EpollSocket calls them between taking and releasing a handle reference, outside any try region).
            _ = Transfer(receive: true, -1, null, 0);
            _ = Transfer(receive: false, -1, null, 0);
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

    /// <summary>epoll_ctl(ADD); 0 or errno.</summary>
    public static int Add(int epfd, int fd, uint events, ulong data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = data;
        return Ctl(epfd, CtlAdd, fd, ev) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Waits (no timeout) for events; the number received, 0 after a signal.</summary>
    public static int Wait(int epfd, byte* events, int max)
    {
        var n = WaitRaw(epfd, events, max, -1);
        if (n >= 0)
        {
            return n;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == EIntr ? 0 : throw new InvalidOperationException($"epoll_wait failed: errno {errno}");
    }

    /// <summary>Events ready now, without waiting (epoll_wait with a zero timeout); 0 when none or after a signal.</summary>
    /// <remarks>Without a GC transition: a zero timeout never blocks (as <see cref="Receive"/>).</remarks>
    public static int Poll(int epfd, byte* events, int max)
    {
        var n = PollRaw(epfd, events, max, 0);
        return n > 0 ? n : 0;
    }

    public static uint EventsAt(byte* events, int index) => *(uint*)(events + (index * EventSize));

    public static ulong DataAt(byte* events, int index) => *(ulong*)(events + (index * EventSize) + DataOffset);

    /// <summary>recv(2), never blocking: bytes read (0: end of stream), or −errno (−<see cref="EAgain"/>: drained).</summary>
    /// <remarks>
    /// Called without a GC transition (<see cref="SuppressGCTransitionAttribute"/>): a recv with MSG_DONTWAIT never
    /// blocks, takes no lock and does not call back into the runtime, and the transition (frame, two mode switches,
    /// the stub's errno save) cost about as much as the call. errno is read only after a failure, straight from libc
    /// (<see cref="Marshal.GetLastSystemError"/>), as the runtime's own stubs do for SetLastError with a suppressed
    /// transition. The JIT may put a GC poll between the call and that read; a thread stopped there keeps its errno:
    /// CoreCLR's poll suspends in the return path of a P/Invoke (RareDisablePreemptiveGC, inside
    /// BEGIN/END_PRESERVE_LAST_ERROR) and Native AOT's in Thread::WaitForGC, which saves and restores it.
    /// </remarks>
    public static int Receive(nint fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return Transfer(receive: true, fd, p, buffer.Length);
        }
    }

    /// <summary>send(2), never blocking, no SIGPIPE: bytes sent, or −errno (−<see cref="EAgain"/>: the send buffer is full).</summary>
    /// <remarks>Without a GC transition, errno read after a failure only: see <see cref="Receive"/>.</remarks>
    public static int Send(nint fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            return Transfer(receive: false, fd, p, data.Length);
        }
    }

    /// <summary>One recv or send, retried after EINTR: bytes moved, or −errno (inlined: <paramref name="receive"/> is a constant at each call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Transfer(bool receive, nint fd, byte* p, int length)
    {
        while (true)
        {
            var n = s_direct
                ? Syscall6(receive ? s_sysRecvFrom : s_sysSendTo, fd, (nint)p, length, Flags, 0, 0)
                : receive ? ReceiveRaw((int)fd, p, length, Flags) : SendRaw((int)fd, p, length, Flags);
            if (n >= 0)
            {
                return (int)n;
            }

            var errno = Marshal.GetLastSystemError();
            if (errno != EIntr)
            {
                return -errno;
            }
        }
    }

    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int Create1(int flags);

    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int Ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int WaitRaw(int epfd, byte* events, int max, int timeoutMs);

    [LibraryImport(Libc, EntryPoint = "epoll_wait")]
    [SuppressGCTransition]
    private static partial int PollRaw(int epfd, byte* events, int max, int timeoutMs);

    // recv/send: no GC transition, no errno save (see Receive).
    [LibraryImport(Libc, EntryPoint = "send")]
    [SuppressGCTransition]
    private static partial nint SendRaw(int fd, byte* buffer, nint length, int flags);

    [LibraryImport(Libc, EntryPoint = "recv")]
    [SuppressGCTransition]
    private static partial nint ReceiveRaw(int fd, byte* buffer, nint length, int flags);

    /// <summary>syscall(2) with six word arguments (its variadic arguments are all integers: passed as fixed ones on
    /// x86-64 and arm64 Linux, and glibc's implementation only moves registers).</summary>
    [LibraryImport(Libc, EntryPoint = "syscall")]
    [SuppressGCTransition]
    internal static partial nint Syscall6(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);
}
