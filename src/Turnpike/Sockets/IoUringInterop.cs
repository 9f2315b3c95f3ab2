using System.Runtime.InteropServices;

namespace Turnpike.Sockets;

/// <summary>
/// The io_uring calls of <see cref="IoUringBatch"/> (Linux 5.6+): io_uring_setup and io_uring_enter through syscall(2)
/// (their numbers are the same on every architecture), and mmap of the rings. Only the parts the batch uses: the
/// offsets of <c>struct io_uring_params</c>, <c>io_uring_sqe</c> (64 bytes) and <c>io_uring_cqe</c> (16 bytes).
/// </summary>
internal static unsafe partial class IoUringInterop
{
    public const int SqeSize = 64;
    public const int CqeSize = 16;
    public const byte OpRecv = 27;

    /// <summary>MSG_DONTWAIT | MSG_NOSIGNAL: a recv that cannot complete now fails with EAGAIN (io_uring neither polls nor
    /// hands it to a worker thread), exactly as the direct recv of <see cref="EpollInterop"/>.</summary>
    public const uint MsgFlags = 0x40 | 0x4000;

    public const uint SetupSubmitAll = 1u << 7;
    public const uint SetupCoopTaskRun = 1u << 8;
    public const uint SetupSingleIssuer = 1u << 12;
    public const uint FeatSingleMmap = 1u << 0;

    public const long OffSqRing = 0;
    public const long OffCqRing = 0x8000000;
    public const long OffSqes = 0x10000000;

    private const nint SysSetup = 425;
    private const nint SysEnter = 426;
    private const int ProtReadWrite = 0x1 | 0x2;
    private const int MapSharedPopulate = 0x01 | 0x8000;

    /// <summary>io_uring_setup: the ring's fd, or −errno. <paramref name="parameters"/> is a zeroed 120-byte <c>io_uring_params</c> with its flags set.</summary>
    public static int Setup(uint entries, byte* parameters)
    {
        var fd = EpollInterop.Syscall6(SysSetup, (nint)entries, (nint)parameters, 0, 0, 0, 0);
        return fd >= 0 ? (int)fd : -Marshal.GetLastSystemError();
    }

    /// <summary>io_uring_enter without waiting: SQEs consumed, or −errno.</summary>
    public static int Enter(int fd, uint toSubmit)
    {
        var n = EpollInterop.Syscall6(SysEnter, fd, (nint)toSubmit, 0, 0, 0, 0);
        return n >= 0 ? (int)n : -Marshal.GetLastSystemError();
    }

    /// <summary>Maps <paramref name="length"/> bytes of the ring at <paramref name="offset"/>; null on failure.</summary>
    public static byte* Map(int fd, nuint length, long offset)
    {
        var p = Mmap(null, length, ProtReadWrite, MapSharedPopulate, fd, offset);
        return p == (void*)-1 ? null : (byte*)p;
    }

    public static void Unmap(byte* address, nuint length) => _ = Munmap(address, length);

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* Mmap(void* address, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);
}
