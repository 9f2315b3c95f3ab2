using System.Buffers;
using System.Net.Sockets;

namespace Turnpike.Sockets;

/// <summary>
/// A socket on the epoll engine, with readiness tracked here, nginx-style: each direction counts the edges the engine
/// saw and remembers the count at which a call last found the socket drained (a receive that returned fewer bytes than
/// asked, a short send, EAGAIN). A call is made only when an edge came since: a receive after a drained one waits for
/// the next edge without a system call, and the edge's thread makes the call. One receive and one send at a time (each
/// from any thread); <see cref="CancelReceive"/>, <see cref="CancelSend"/> and <see cref="Close"/> from any thread. The
/// hand-off of a waiting operation is one <see cref="Interlocked"/> exchange of its direction's waiting flag: whoever
/// takes it (edge, cancel, close, or the caller itself when an edge came as it parked) completes the operation, once.
/// <para>
/// Results: bytes (≥ 0), −errno, <see cref="Pending"/> (the owner's completion is called later) or
/// <see cref="Canceled"/>. System calls hold a reference on the socket's <see cref="SafeSocketHandle"/>, so a close from
/// another thread never lets a call reach a reused fd number.
/// </para>
/// </summary>
internal sealed class EpollSocket
{
    /// <summary>The operation waits for an edge; the owner's completion reports its result.</summary>
    public const int Pending = int.MinValue;

    /// <summary>A pending operation ended by <see cref="CancelReceive"/> or <see cref="CancelSend"/>.</summary>
    public const int Canceled = int.MinValue + 1;

    private const uint ReadEvents = EpollInterop.EpollIn | EpollInterop.EpollRdHup | EpollInterop.EpollHup | EpollInterop.EpollErr;
    private const uint WriteEvents = EpollInterop.EpollOut | EpollInterop.EpollHup | EpollInterop.EpollErr;

    private readonly SafeSocketHandle _handle;
    private readonly nint _fd;
    private readonly EpollThread _thread;
    private IEpollReceiveCompletion? _receiver;
    private IEpollSendCompletion? _sender;

    // Receive side: edges seen (written by the engine thread), the count when last drained, a receive waiting.
    private int _readEdges = 1;
    private int _readDrainedAt;
    private int _readWaiting;
    private Memory<byte> _readBuffer;

    // Send side, the same.
    private int _writeEdges = 1;
    private int _writeDrainedAt;
    private int _writeWaiting;
    private ReadOnlyMemory<byte> _writeData;

    private int _closed;
    private volatile bool _peerClosed;

    // What a batched receive after a zero-byte wait read (IoUringBatch): bytes not yet taken, or its result when it
    // read none (0 at end of stream, −errno), handed out by the next receive before any system call.
    private byte[]? _staged;
    private int _stagedStart;
    private int _stagedEnd;
    private int _stagedResult = NoStagedResult;

    private const int NoStagedResult = int.MinValue;

    public EpollSocket(Socket socket, EpollThread thread)
    {
        Socket = socket;
        _handle = socket.SafeHandle;
        _fd = _handle.DangerousGetHandle();
        _thread = thread;
    }

    public Socket Socket { get; }

    public nint Fd => _fd;

    /// <summary>The engine thread this socket's edges arrive on.</summary>
    public EpollThread Thread => _thread;

    internal int Slot { get; set; }

    internal uint Generation { get; set; }

    /// <summary>An EPOLLRDHUP, EPOLLHUP or EPOLLERR arrived: the peer closed (at least its sending side) or reset.</summary>
    public bool PeerClosed => _peerClosed;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public void SetReceiver(IEpollReceiveCompletion receiver) => _receiver = receiver;

    public void SetSender(IEpollSendCompletion sender) => _sender = sender;

    /// <summary>A socket whose non-blocking connect is in progress: not writable until its first EPOLLOUT.</summary>
    public void MarkConnecting() => _writeDrainedAt = Volatile.Read(ref _writeEdges);

    /// <summary>
    /// Receives into <paramref name="buffer"/>; an empty buffer only waits until the socket is readable (returns 0 then,
    /// without a call). Returns bytes, −errno, or <see cref="Pending"/>.
    /// </summary>
    public int Receive(Memory<byte> buffer)
    {
        while (true)
        {
            if (Volatile.Read(ref _closed) != 0)
            {
                return -EpollInterop.ECanceled;
            }

            if (HasStaged)
            {
                return buffer.IsEmpty ? 0 : TakeStaged(buffer.Span);
            }

            var edges = Volatile.Read(ref _readEdges);
            if (edges != _readDrainedAt)
            {
                if (buffer.IsEmpty)
                {
                    return 0;
                }

                var n = ReceiveNow(buffer.Span, edges);
                if (n != -EpollInterop.EAgain)
                {
                    return n;
                }
            }

            _readBuffer = buffer;
            // A full fence: the edge count must be read again after the flag is visible, or an edge in between is lost.
            Interlocked.Exchange(ref _readWaiting, 1);
            if (Volatile.Read(ref _readEdges) == _readDrainedAt || Interlocked.Exchange(ref _readWaiting, 0) == 0)
            {
                return Pending;
            }

            // An edge came as we parked and we took the operation back: try again.
        }
    }

    /// <summary>
    /// As <see cref="Receive"/>, but never waits: <see cref="Pending"/> when nothing can be read now, and then nothing
    /// is parked (the owner waits with an empty buffer instead, holding no memory: an edge counted before a receive
    /// drained the socket wakes a zero-byte wait that finds nothing).
    /// </summary>
    public int TryReceive(Memory<byte> buffer)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return -EpollInterop.ECanceled;
        }

        if (HasStaged)
        {
            return TakeStaged(buffer.Span);
        }

        var edges = Volatile.Read(ref _readEdges);
        if (edges == _readDrainedAt)
        {
            return Pending;
        }

        var n = ReceiveNow(buffer.Span, edges);
        return n == -EpollInterop.EAgain ? Pending : n;
    }

    /// <summary>Sends from <paramref name="data"/> (an empty one only waits until writable). Bytes sent (possibly fewer), −errno, or <see cref="Pending"/>.</summary>
    public int Send(ReadOnlyMemory<byte> data)
    {
        while (true)
        {
            if (Volatile.Read(ref _closed) != 0)
            {
                return -EpollInterop.ECanceled;
            }

            var edges = Volatile.Read(ref _writeEdges);
            if (edges != _writeDrainedAt)
            {
                if (data.IsEmpty)
                {
                    return 0;
                }

                var n = SendNow(data.Span, edges);
                if (n != -EpollInterop.EAgain)
                {
                    return n;
                }
            }

            _writeData = data;
            Interlocked.Exchange(ref _writeWaiting, 1);
            if (Volatile.Read(ref _writeEdges) == _writeDrainedAt || Interlocked.Exchange(ref _writeWaiting, 0) == 0)
            {
                return Pending;
            }
        }
    }

    /// <summary>Ends a pending receive with <see cref="Canceled"/> (its completion runs on the caller's thread). False: none was pending.</summary>
    public bool CancelReceive()
    {
        if (Interlocked.Exchange(ref _readWaiting, 0) == 1)
        {
            _readBuffer = default;
            _receiver!.OnReceiveCompleted(Canceled);
            return true;
        }

        return false;
    }

    /// <summary>Ends a pending send with <see cref="Canceled"/>. False: none was pending.</summary>
    public bool CancelSend()
    {
        if (Interlocked.Exchange(ref _writeWaiting, 0) == 1)
        {
            _writeData = default;
            _sender!.OnSendCompleted(Canceled);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Leaves the engine: the slot is freed and pending operations end with −ECANCELED (reported as an abort). The
    /// owner closes the <see cref="Socket"/> itself (before or after); calls made meanwhile find the handle closed.
    /// </summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _thread.Remove(this);
        if (Interlocked.Exchange(ref _readWaiting, 0) == 1)
        {
            _readBuffer = default;
            _receiver!.OnReceiveCompleted(-EpollInterop.ECanceled);
        }

        if (Interlocked.Exchange(ref _writeWaiting, 0) == 1)
        {
            _writeData = default;
            _sender!.OnSendCompleted(-EpollInterop.ECanceled);
        }
    }

    /// <summary>The engine thread: an edge for this socket.</summary>
    internal void OnEvents(uint events)
    {
        if ((events & (EpollInterop.EpollRdHup | EpollInterop.EpollHup | EpollInterop.EpollErr)) != 0)
        {
            _peerClosed = true;
        }

        if ((events & ReadEvents) != 0)
        {
            Interlocked.Increment(ref _readEdges);
            if (Volatile.Read(ref _readWaiting) == 1 && Interlocked.Exchange(ref _readWaiting, 0) == 1)
            {
                CompleteReceive();
            }
        }

        if ((events & WriteEvents) != 0)
        {
            Interlocked.Increment(ref _writeEdges);
            if (Volatile.Read(ref _writeWaiting) == 1 && Interlocked.Exchange(ref _writeWaiting, 0) == 1)
            {
                CompleteSend();
            }
        }
    }

    /// <summary>The engine took the waiting receive: make the call now and report it (or wait again after a spurious edge).</summary>
    private void CompleteReceive()
    {
        var buffer = _readBuffer;
        if (_thread.Batch is { } batch && Volatile.Read(ref _closed) == 0 && TryAddRef())
        {
            // The engine thread (edges arrive there): the recv goes in its turn's batch. After a zero-byte wait it
            // reads into the batch's staging slot and the bytes wait here for the owner's receive.
            if (batch.TryQueueReceive(this, buffer.IsEmpty ? IoUringBatch.StagingSize : buffer.Length, Volatile.Read(ref _readEdges), staged: buffer.IsEmpty))
            {
                return;
            }

            _handle.DangerousRelease();
        }

        int result;
        if (buffer.IsEmpty)
        {
            result = 0;
        }
        else
        {
            result = Receive(buffer);
            if (result == Pending)
            {
                return;
            }
        }

        _readBuffer = default;
        _receiver!.OnReceiveCompleted(result);
    }

    private void CompleteSend()
    {
        var data = _writeData;
        int result;
        if (data.IsEmpty)
        {
            result = 0;
        }
        else
        {
            result = Send(data);
            if (result == Pending)
            {
                return;
            }
        }

        _writeData = default;
        _sender!.OnSendCompleted(result);
    }

    private bool HasStaged => _staged is not null || _stagedResult != NoStagedResult;

    /// <summary>Hands out staged bytes (or the staged result) as a receive into <paramref name="buffer"/> would.</summary>
    private int TakeStaged(Span<byte> buffer)
    {
        var staged = _staged;
        if (staged is null)
        {
            var result = _stagedResult;
            _stagedResult = NoStagedResult;
            return result;
        }

        var n = Math.Min(buffer.Length, _stagedEnd - _stagedStart);
        staged.AsSpan(_stagedStart, n).CopyTo(buffer);
        _stagedStart += n;
        if (_stagedStart == _stagedEnd)
        {
            _staged = null;
            ArrayPool<byte>.Shared.Return(staged);
        }

        return n;
    }

    /// <summary>
    /// The engine thread: a recv queued by <see cref="CompleteReceive"/> came back from the batch with
    /// <paramref name="result"/> (<paramref name="data"/>: the bytes read, in the batch's staging slot).
    /// </summary>
    internal void OnBatchedReceive(int result, ReadOnlySpan<byte> data, int asked, int edges, bool staged)
    {
        _handle.DangerousRelease();
        NoteReceived(result, asked, edges);

        if (Volatile.Read(ref _closed) != 0)
        {
            // Closed while queued: end as Close ends a waiting receive (what was read goes nowhere).
            result = -EpollInterop.ECanceled;
        }
        else if (result == -EpollInterop.EAgain)
        {
            // A stale edge: wait again (or, if an edge came meanwhile, receive now).
            result = Receive(_readBuffer);
            if (result == Pending)
            {
                return;
            }
        }
        else if (staged)
        {
            if (result > 0)
            {
                var copy = ArrayPool<byte>.Shared.Rent(result);
                data.CopyTo(copy);
                _stagedStart = 0;
                _stagedEnd = result;
                _staged = copy;
            }
            else
            {
                _stagedResult = result;
            }

            result = 0; // the zero-byte wait's answer: readable
        }
        else if (result > 0)
        {
            data.CopyTo(_readBuffer.Span);
        }

        _readBuffer = default;
        _receiver!.OnReceiveCompleted(result);
    }

    // The system calls below are made outside any try region: the JIT inlines a P/Invoke only there (inside one each
    // call goes through an IL stub). Nothing between the reference and its release can throw: the calls have no GC
    // transition and no marshalling, return −errno, and their entry points are bound by EpollInterop's probe.
    private int ReceiveNow(Span<byte> buffer, int edges)
    {
        if (!TryAddRef())
        {
            return -EpollInterop.ECanceled;
        }

        var n = EpollInterop.Receive(_fd, buffer);
        _handle.DangerousRelease();

        NoteReceived(n, buffer.Length, edges);

        return n;
    }

    /// <summary>After a recv of <paramref name="asked"/> bytes made with <paramref name="edges"/> counted: remember when it drained the socket.</summary>
    private void NoteReceived(int n, int asked, int edges)
    {
        if (n == -EpollInterop.EAgain || (n > 0 && n < asked && !_peerClosed))
        {
            // Fewer bytes than asked (or EAGAIN): drained as of the edges counted before the call. Not after an
            // EPOLLRDHUP (nginx's pending_eof): the FIN came with the same edge as the bytes, and no edge follows it.
            _readDrainedAt = edges;
        }
    }

    private int SendNow(ReadOnlySpan<byte> data, int edges)
    {
        if (!TryAddRef())
        {
            return -EpollInterop.ECanceled;
        }

        var n = EpollInterop.Send(_fd, data);
        _handle.DangerousRelease();

        if (n < data.Length)
        {
            // A short send (or EAGAIN): the send buffer is full; wait for EPOLLOUT.
            _writeDrainedAt = edges;
        }

        return n;
    }

    /// <summary>A reference on the handle for one system call; false when the socket was closed.</summary>
    private bool TryAddRef()
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }

        return added;
    }
}
