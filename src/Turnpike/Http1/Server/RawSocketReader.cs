using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Turnpike.Observability;
using Turnpike.Sockets;

namespace Turnpike.Http1.Server;

/// <summary>
/// The receive side of a raw connection: the socket read straight into one pooled buffer that the parsers see as a
/// single-segment <see cref="ReadOnlySequence{T}"/> (no Pipe in between). Pipe semantics the connection relies on:
/// <see cref="AdvanceTo(SequencePosition, SequencePosition)"/> keeps the unconsumed bytes (pipelining, a partial
/// head), a read returns at once while unexamined bytes are buffered, <see cref="CancelPendingRead"/> ends the waiting
/// read with <see cref="ReadResult.IsCanceled"/> while the socket receive goes on (its bytes go to the next read).
/// <para>
/// Memory: an empty buffer goes back to the pool, and with no buffer the next receive is a zero-byte receive that only
/// waits for data (as Kestrel's WaitForDataBeforeAllocatingBuffer): an idle keep-alive connection holds no buffer.
/// Unconsumed bytes are compacted to the front before the next receive; a full buffer grows (doubling, capped).
/// </para>
/// <para>
/// Threads: one reader at a time (the connection's own flow); the socket completion runs on the socket engine's
/// thread (inline completions) and completes the waiting read there. Hand-offs are one <see cref="Interlocked"/>
/// exchange each (a receive in flight, a reader waiting).
/// </para>
/// <para>
/// Socket engine: the epoll engine (<see cref="EpollSocket"/>) when the connection has one — a receive after one that
/// drained the socket waits for the next edge without a system call, so the zero-byte wait and the disconnect watch
/// cost none — else .NET's <see cref="Socket.ReceiveAsync(SocketAsyncEventArgs)"/>.
/// </para>
/// </summary>
internal sealed class RawSocketReader : PipeReader, IValueTaskSource<ReadResult>, IEpollReceiveCompletion
{
    /// <summary>First buffer size: a typical request head fits.</summary>
    private const int InitialBufferSize = 4096;

    /// <summary>Never more than this buffered (the head limits bite long before).</summary>
    private const int MaxBufferSize = 1024 * 1024;

    private readonly Socket _socket;
    private readonly EpollSocket? _epoll;
    private readonly SocketAsyncEventArgs? _args;
    private readonly ListenerByteCounters? _counters;
    private int _epollResult;
    private ManualResetValueTaskSourceCore<ReadResult> _source;
    private CancellationTokenRegistration _registration;
    private CancellationToken _waitToken;

    private byte[]? _buffer;
    private int _start;
    private int _end;
    private int _examined;
    private bool _zeroByte;
    private bool _fin;
    private Exception? _error;

    private int _receiving; // 1 while a socket receive is in flight
    private int _waiting; // 1 while a ReadAsync waits on _source
    private int _cancelNext; // CancelPendingRead with no read waiting: the next read returns cancelled
    private volatile bool _completed;
    private volatile IReadWatcher? _watcher;

    /// <param name="epoll">The socket on the epoll engine; null: .NET's socket engine.</param>
    public RawSocketReader(Socket socket, EpollSocket? epoll, ListenerByteCounters? counters, bool inlineContinuations)
    {
        _socket = socket;
        _epoll = epoll;
        _counters = counters;
        _source.RunContinuationsAsynchronously = !inlineContinuations;
        if (epoll is not null)
        {
            epoll.SetReceiver(this);
            return;
        }

        _args = new SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true);
        _args.Completed += static (_, args) => ((RawSocketReader)args.UserToken!).OnReceiveCompleted();
        _args.UserToken = this;
    }

    /// <summary>Bytes held for this connection now (tests: idle connections hold none).</summary>
    public int BufferedCapacity => _buffer?.Length ?? 0;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            throw new InvalidOperationException("Reading is not allowed after the reader was completed.");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        }

        if (Volatile.Read(ref _cancelNext) == 1 && Interlocked.Exchange(ref _cancelNext, 0) == 1)
        {
            return new ValueTask<ReadResult>(new ReadResult(View(), isCanceled: true, isCompleted: _fin));
        }

        if (Volatile.Read(ref _receiving) == 0)
        {
            if (HasResult)
            {
                return CurrentResult();
            }

            _receiving = 1;
            if (!Receive())
            {
                Volatile.Write(ref _receiving, 0);
                return CurrentResult();
            }
        }

        // A receive is in flight: wait for it.
        _source.Reset();
        _waitToken = cancellationToken;

        // A full fence (not a release write): the check of _receiving below must not move before this store, or a
        // completion in between would see no reader waiting and the reader would see the receive still in flight.
        Interlocked.Exchange(ref _waiting, 1);
        if (cancellationToken.CanBeCanceled)
        {
            // Registered after _waiting is set: a token cancelled meanwhile ends this wait from inside the registration.
            _registration = cancellationToken.UnsafeRegister(static state => ((RawSocketReader)state!).CancelWait(), this);
        }

        if (Volatile.Read(ref _receiving) == 0 && Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            // The receive completed between the check and the registration: answer now.
            _registration.Unregister();
            _registration = default;
            return CurrentResult();
        }

        return new ValueTask<ReadResult>(this, _source.Version);
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!_completed && Volatile.Read(ref _receiving) == 0 && HasResult && _error is null)
        {
            result = new ReadResult(View(), isCanceled: false, isCompleted: _fin);
            return true;
        }

        result = default;
        return false;
    }

    /// <summary>
    /// Keeps a receive armed with no read waiting (the disconnect watch while the app runs): when it completes with
    /// the end of the stream or an error and nothing unread, <paramref name="watcher"/> is told; whatever it brings
    /// stays buffered for the next <see cref="ReadAsync"/>, which then returns at once. Nothing is armed while bytes
    /// are buffered (the next read returns them) or a receive is already in flight.
    /// </summary>
    public void Watch(IReadWatcher watcher)
    {
        _watcher = watcher;
        if (_completed || Volatile.Read(ref _receiving) == 1)
        {
            return;
        }

        if (!HasResult)
        {
            _receiving = 1;
            if (Receive())
            {
                return;
            }

            Volatile.Write(ref _receiving, 0);
        }

        if (_end <= _start && (_fin || _error is not null))
        {
            _watcher = null;
            watcher.OnReadEnded();
        }
    }

    /// <summary>Ends <see cref="Watch"/>: a receive still in flight is left to the next read.</summary>
    public void StopWatching() => _watcher = null;

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var buffer = _buffer;
        if (buffer is null || !ReferenceEquals(consumed.GetObject(), buffer))
        {
            // A position of an empty result (no buffer): nothing to move.
            return;
        }

        int consumedIndex = consumed.GetInteger();
        int examinedIndex = ReferenceEquals(examined.GetObject(), buffer) ? examined.GetInteger() : consumedIndex;
        if (consumedIndex < _start || consumedIndex > examinedIndex)
        {
            throw new InvalidOperationException("The consumed position is outside the buffer that was read.");
        }

        _start = consumedIndex;
        _examined = Math.Max(examinedIndex, consumedIndex);
        if (Volatile.Read(ref _receiving) == 0 && _start == _end)
        {
            // Everything consumed: the buffer goes back to the pool; the next receive first waits for data.
            ReturnBuffer();
        }
    }

    public override void CancelPendingRead()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _registration.Unregister();
            _source.SetResult(new ReadResult(View(), isCanceled: true, isCompleted: _fin));
        }
        else
        {
            Volatile.Write(ref _cancelNext, 1);
        }
    }

    public override void Complete(Exception? exception = null)
    {
        _completed = true;
        if (Volatile.Read(ref _receiving) == 0)
        {
            ReturnBuffer();
        }
    }

    /// <summary>After the socket was closed: the buffer goes back once no receive can write into it.</summary>
    public void Dispose()
    {
        _completed = true;
        if (Volatile.Read(ref _receiving) == 0)
        {
            ReturnBuffer();
            _args?.Dispose();
        }
    }

    void IEpollReceiveCompletion.OnReceiveCompleted(int result)
    {
        _epollResult = result;
        OnReceiveCompleted();
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    private bool HasResult => _end > _examined || _fin || _error is not null;

    private ReadOnlySequence<byte> View()
    {
        var buffer = _buffer;
        int start = _start;
        int end = _end;
        return buffer is null || end <= start ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(buffer, start, end - start);
    }

    private ValueTask<ReadResult> CurrentResult()
    {
        if (_error is { } error && _end <= _start)
        {
            return ValueTask.FromException<ReadResult>(error);
        }

        return new ValueTask<ReadResult>(new ReadResult(View(), isCanceled: false, isCompleted: _fin || _error is not null));
    }

    /// <summary>Receives until there is something to report. True: a receive is in flight (its completion goes on).</summary>
    private bool Receive()
    {
        while (!_completed)
        {
            var buffer = _buffer;
            Memory<byte> target;
            if (buffer is null)
            {
                _zeroByte = true;
                target = Memory<byte>.Empty;
            }
            else
            {
                if (_end == buffer.Length)
                {
                    var room = MakeRoom(buffer);
                    if (room is null)
                    {
                        _error = new IOException("The receive buffer is full and nothing of it was consumed.");
                        return false;
                    }

                    buffer = room;
                }

                _zeroByte = false;
                target = buffer.AsMemory(_end, buffer.Length - _end);
            }

            bool pending;
            if (_epoll is not null && !_zeroByte && _start == _end)
            {
                // A buffer holding nothing yet (rented after a zero-byte wait): if the wait's edge was a stale one and
                // nothing is there, give the buffer back and wait without it — an idle connection holds no memory.
                _epollResult = _epoll.TryReceive(target);
                if (_epollResult == EpollSocket.Pending)
                {
                    ReturnBuffer();
                    continue;
                }

                pending = false;
            }
            else if (_epoll is not null)
            {
                _epollResult = _epoll.Receive(target);
                pending = _epollResult == EpollSocket.Pending;
            }
            else
            {
                try
                {
                    _args!.SetBuffer(target);
                    pending = _socket.ReceiveAsync(_args);
                }
                catch (ObjectDisposedException)
                {
                    _error = new ConnectionAbortedException("The connection was aborted.");
                    return false;
                }
            }

            if (pending)
            {
                return true;
            }

            if (!ProcessReceive())
            {
                return false;
            }
        }

        _error ??= new ConnectionAbortedException("The connection was aborted.");
        return false;
    }

    /// <summary>A completed receive. True: only the zero-byte wait completed, receive the data next.</summary>
    private bool ProcessReceive()
    {
        int n;
        if (_epoll is not null)
        {
            n = _epollResult;
            if (n < 0)
            {
                _error = SocketFailure.From(n == EpollSocket.Canceled ? SocketError.OperationAborted : SocketErrors.FromErrno(-n), "Receive");
                return false;
            }
        }
        else
        {
            var error = _args!.SocketError;
            if (error != SocketError.Success)
            {
                _error = SocketFailure.From(error, "Receive");
                return false;
            }

            n = _args.BytesTransferred;
        }

        if (_zeroByte)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            _start = _end = _examined = 0;
            return true;
        }

        if (n == 0)
        {
            _fin = true;
            return false;
        }

        _counters?.Received(n);
        _end += n;
        return false;
    }

    /// <summary>The buffer is full up to its end: move the unconsumed bytes to the front, or grow (null: at the cap).</summary>
    private byte[]? MakeRoom(byte[] buffer)
    {
        int length = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(buffer, _start, buffer, 0, length);
            _examined -= _start;
            _start = 0;
            _end = length;
            return buffer;
        }

        if (buffer.Length >= MaxBufferSize)
        {
            return null;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxBufferSize));
        Buffer.BlockCopy(buffer, 0, bigger, 0, length);
        _buffer = bigger;
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    private void OnReceiveCompleted()
    {
        if (ProcessReceive() && Receive())
        {
            return;
        }

        Volatile.Write(ref _receiving, 0);
        if (_completed)
        {
            ReturnBuffer();
            _args?.Dispose();
        }

        if (Interlocked.Exchange(ref _waiting, 0) == 0)
        {
            // Nobody reads: a watch (or a wait that was cancelled) — the result stays for the next read.
            if (_watcher is { } watcher && _end <= _start && (_fin || _error is not null))
            {
                _watcher = null;
                watcher.OnReadEnded();
            }
        }
        else
        {
            _registration.Unregister();
            _registration = default;
            if (_error is { } error && _end <= _start)
            {
                _source.SetException(error);
            }
            else
            {
                _source.SetResult(new ReadResult(View(), isCanceled: false, isCompleted: _fin || _error is not null));
            }
        }
    }

    private void CancelWait()
    {
        // A late callback of an earlier wait's token must not end a later wait that did not ask for it.
        if (_waitToken.IsCancellationRequested && Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _source.SetException(new OperationCanceledException(_waitToken));
        }
    }

    private void ReturnBuffer()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        _start = _end = _examined = 0;
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
