using System.Runtime.InteropServices;

namespace Turnpike.Sockets;

/// <summary>
/// An engine thread's io_uring, used as a batch of the recv calls its edges would otherwise make one system call each
/// (a system call costs ~220 ns on the benchmark machine, ~1 % of a proxied request: see docs/ARCHITECTURE.md). A
/// receive waiting for an edge is queued when its edge comes, into a staging slot of this batch, and the engine thread
/// submits the turn's receives with one io_uring_enter once the turn's events are dispatched (<see cref="Flush"/>). Every recv carries MSG_DONTWAIT, so the kernel makes it at once inside that
/// io_uring_enter and answers as the direct call would (bytes, 0, or −errno, with EAGAIN when nothing is there):
/// io_uring neither polls nor hands it to a worker, and readiness stays with epoll. The completions
/// (<see cref="EpollSocket.OnBatchedReceive"/>) run on the engine thread as the batch reaps them, and may queue more
/// receives, which go in the next submission of the same flush.
/// <para>
/// Owned by one engine thread (created on it: IORING_SETUP_SINGLE_ISSUER): nothing here is thread-safe. At most
/// <see cref="Slots"/> receives are queued at once; when no slot is free the caller makes its call directly.
/// </para>
/// </summary>
internal sealed unsafe class IoUringBatch
{
    /// <summary>Bytes one queued receive asks for at most.</summary>
    public const int StagingSize = 16 * 1024;

    /// <summary>Receives queued at once (and SQ entries).</summary>
    public const int Slots = 256;

    private const int EIntr = 4;
    private const int EAgain = 11;
    private const int EBusy = 16;

    private readonly int _fd;
    private readonly byte* _sqes;
    private readonly uint* _sqTail;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly byte* _cqes;
    private readonly uint _sqMask;
    private readonly uint _cqMask;
    private readonly byte* _staging;
    private readonly Operation[] _operations = new Operation[Slots];
    private readonly int[] _free = new int[Slots];
    private int _freeCount;
    private uint _tail;
    private uint _submitted;

    private IoUringBatch(int fd, byte* sqes, uint* sqTail, uint* cqHead, uint* cqTail, byte* cqes, uint sqMask, uint cqMask)
    {
        _fd = fd;
        _sqes = sqes;
        _sqTail = sqTail;
        _cqHead = cqHead;
        _cqTail = cqTail;
        _cqes = cqes;
        _sqMask = sqMask;
        _cqMask = cqMask;
        _tail = _submitted = Volatile.Read(ref *sqTail);
        _staging = (byte*)NativeMemory.AlignedAlloc((nuint)Slots * StagingSize, 4096);
        for (var i = 0; i < Slots; i++)
        {
            _free[i] = Slots - 1 - i;
        }

        _freeCount = Slots;
    }

    /// <summary>The ring's fd (the engine watches it in its epoll set, for a completion that would come late).</summary>
    public int Fd => _fd;

    /// <summary>Receives completed through this batch so far (tests; written by the engine thread only).</summary>
    internal long Completed { get; private set; }

    /// <summary>True where the kernel gives this process an io_uring (a probe ring, closed at once).</summary>
    public static bool IsSupported { get; } = Probe();

    /// <summary>A batch on the calling thread, or null where io_uring is not available (old kernel, seccomp, io_uring_disabled).</summary>
    public static IoUringBatch? TryCreate()
    {
        if (!IsSupported)
        {
            return null;
        }

        var p = stackalloc byte[120];
        var fd = Setup(p, Slots, IoUringInterop.SetupSubmitAll | IoUringInterop.SetupCoopTaskRun | IoUringInterop.SetupSingleIssuer);
        if (fd < 0)
        {
            fd = Setup(p, Slots, 0); // kernels before 6.0 refuse the flags
        }

        if (fd < 0)
        {
            return null;
        }

        var sqEntries = *(uint*)p;
        var cqEntries = *(uint*)(p + 4);
        var features = *(uint*)(p + 20);
        var sqArray = *(uint*)(p + 40 + 24);
        var cqCqes = *(uint*)(p + 80 + 20);
        var sqSize = (nuint)(sqArray + (sqEntries * 4));
        var cqSize = (nuint)(cqCqes + (cqEntries * IoUringInterop.CqeSize));
        byte* sq;
        byte* cq;
        if ((features & IoUringInterop.FeatSingleMmap) != 0)
        {
            sq = cq = IoUringInterop.Map(fd, Math.Max(sqSize, cqSize), IoUringInterop.OffSqRing);
        }
        else
        {
            sq = IoUringInterop.Map(fd, sqSize, IoUringInterop.OffSqRing);
            cq = sq is null ? null : IoUringInterop.Map(fd, cqSize, IoUringInterop.OffCqRing);
        }

        var sqes = cq is null ? null : IoUringInterop.Map(fd, sqEntries * IoUringInterop.SqeSize, IoUringInterop.OffSqes);
        if (sqes is null || sqEntries < Slots || cqEntries < Slots)
        {
            if (sqes is not null)
            {
                IoUringInterop.Unmap(sqes, sqEntries * IoUringInterop.SqeSize);
            }

            if (cq is not null && cq != sq)
            {
                IoUringInterop.Unmap(cq, cqSize);
            }

            if (sq is not null)
            {
                IoUringInterop.Unmap(sq, sq == cq ? Math.Max(sqSize, cqSize) : sqSize);
            }

            _ = EpollInterop.Close(fd);
            return null;
        }

        // SQE i always sits in slot i of the array (no IORING_SETUP_NO_SQARRAY before 6.6).
        var array = (uint*)(sq + sqArray);
        for (uint i = 0; i < sqEntries; i++)
        {
            array[i] = i;
        }

        return new IoUringBatch(
            fd,
            sqes,
            (uint*)(sq + *(uint*)(p + 40 + 4)),
            (uint*)(cq + *(uint*)(p + 80)),
            (uint*)(cq + *(uint*)(p + 80 + 4)),
            cq + cqCqes,
            *(uint*)(sq + *(uint*)(p + 40 + 8)),
            *(uint*)(cq + *(uint*)(p + 80 + 8)));
    }

    /// <summary>io_uring_setup with <paramref name="p"/> (120 bytes) cleared and given <paramref name="flags"/>: the fd, or −errno.</summary>
    private static int Setup(byte* p, uint entries, uint flags)
    {
        new Span<byte>(p, 120).Clear();
        *(uint*)(p + 8) = flags;
        return IoUringInterop.Setup(entries, p);
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || !EpollInterop.IsSupported)
        {
            return false;
        }

        var p = stackalloc byte[120];
        var fd = Setup(p, 1, 0);
        if (fd < 0)
        {
            return false;
        }

        _ = EpollInterop.Close(fd);
        return true;
    }

    /// <summary>
    /// Queues a recv of at most <paramref name="length"/> bytes (capped at <see cref="StagingSize"/>) into a staging
    /// slot, for the receive <paramref name="socket"/> has waiting (<paramref name="staged"/>: a zero-byte wait, whose
    /// bytes the socket keeps for the owner's next receive). The caller holds a reference on the socket's handle until
    /// the completion. False: no slot free (make the call directly).
    /// </summary>
    public bool TryQueueReceive(EpollSocket socket, int length, int edges, bool staged)
    {
        if (_freeCount == 0)
        {
            return false;
        }

        var id = _free[--_freeCount];
        var asked = Math.Min(length, StagingSize);
        _operations[id] = new Operation(socket, edges, asked, staged);
        Queue(IoUringInterop.OpRecv, socket.Fd, _staging + ((nint)id * StagingSize), asked, id);
        return true;
    }

    /// <summary>Submits what is queued and runs the completions, until they queue nothing more (the engine thread, after each turn).</summary>
    public void Flush()
    {
        Reap();
        var retries = 0;
        while (_tail != _submitted)
        {
            Volatile.Write(ref *_sqTail, _tail);
            var n = IoUringInterop.Enter(_fd, _tail - _submitted);
            if (n > 0)
            {
                _submitted += (uint)n;
                retries = 0;
            }
            else if ((n == 0 || n == -EIntr || n == -EAgain || n == -EBusy) && ++retries < 100)
            {
                // Interrupted, or short of memory or completion room for a moment: reap, and submit again.
            }
            else
            {
                FailUnsubmitted(n == 0 ? -EAgain : n);
            }

            Reap();
        }
    }

    private void Queue(byte opcode, nint fd, byte* address, int length, int id)
    {
        // Every field written (eight words, no memset): opcode, flags 0, ioprio 0, fd; offset 0; address; length and
        // msg_flags; user_data; buf_index, personality, splice_fd_in; addr3; pad.
        var sqe = (ulong*)(_sqes + ((nint)(_tail & _sqMask) * IoUringInterop.SqeSize));
        sqe[0] = opcode | ((ulong)(uint)(int)fd << 32);
        sqe[1] = 0;
        sqe[2] = (ulong)address;
        sqe[3] = (uint)length | ((ulong)IoUringInterop.MsgFlags << 32);
        sqe[4] = (ulong)id;
        sqe[5] = 0;
        sqe[6] = 0;
        sqe[7] = 0;
        _tail++;
    }

    private void Reap()
    {
        var head = *_cqHead;
        while (true)
        {
            var tail = Volatile.Read(ref *_cqTail);
            if (head == tail)
            {
                return;
            }

            do
            {
                var cqe = _cqes + ((nint)(head & _cqMask) * IoUringInterop.CqeSize);
                var id = (int)*(ulong*)cqe;
                var result = *(int*)(cqe + 8);
                head++;
                Volatile.Write(ref *_cqHead, head);
                Complete(id, result);
            }
            while (head != tail);
        }
    }

    /// <summary>io_uring_enter failed for good: the receives it did not take end with its error, as a failed recv would.</summary>
    private void FailUnsubmitted(int error)
    {
        Span<int> ids = stackalloc int[Slots];
        var count = 0;
        for (var i = _submitted; i != _tail; i++)
        {
            ids[count++] = (int)*(ulong*)(_sqes + ((nint)(i & _sqMask) * IoUringInterop.SqeSize) + 32);
        }

        _tail = _submitted;
        Volatile.Write(ref *_sqTail, _tail);
        foreach (var id in ids[..count])
        {
            Complete(id, error);
        }
    }

    private void Complete(int id, int result)
    {
        var operation = _operations[id];
        _operations[id] = default;
        Completed++;
        try
        {
            // The slot stays taken while the completion runs (its bytes are copied out there).
            operation.Socket!.OnBatchedReceive(result, new ReadOnlySpan<byte>(_staging + ((nint)id * StagingSize), Math.Max(result, 0)), operation.Asked, operation.Edges, operation.Staged);
        }
        finally
        {
            _free[_freeCount++] = id;
        }
    }

    private readonly record struct Operation(EpollSocket? Socket, int Edges, int Asked, bool Staged);
}
