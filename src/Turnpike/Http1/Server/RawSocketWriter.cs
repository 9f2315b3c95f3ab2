using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Turnpike.Observability;
using Turnpike.Sockets;

namespace Turnpike.Http1.Server;

/// <summary>
/// The send side of a raw connection: what the connection writes (response head, framing, body) goes into one pooled
/// buffer, and <see cref="FlushAsync"/> sends all of it in one send and waits for the socket to take it (a slow client
/// holds the writer: backpressure, nothing buffered beyond one write). The buffer is rented at the first write of a
/// response and returned when a flush has sent everything, so an idle connection holds none.
/// <para>
/// One writer at a time, and no write while a flush is in flight (the connection awaits every flush). Bodies larger
/// than <see cref="DirectSendThreshold"/> go out from the caller's memory without the copy (<see cref="WriteAsync"/>).
/// </para>
/// <para>
/// Socket engine: the epoll engine (<see cref="EpollSocket"/>: a short send waits for EPOLLOUT without another call)
/// when the connection has one, else .NET's <see cref="Socket.SendAsync(SocketAsyncEventArgs)"/>.
/// </para>
/// </summary>
internal sealed class RawSocketWriter : PipeWriter, IValueTaskSource<FlushResult>, IEpollSendCompletion
{
    /// <summary>Body writes of at least this size are sent from the caller's memory (after what is buffered).</summary>
    public const int DirectSendThreshold = 16 * 1024;

    private const int InitialBufferSize = 4096;

    private readonly Socket _socket;
    private readonly EpollSocket? _epoll;
    private readonly SocketAsyncEventArgs? _args;
    private readonly ListenerByteCounters? _counters;
    private int _epollResult;
    private ManualResetValueTaskSourceCore<FlushResult> _source;

    private byte[]? _buffer;
    private int _written;

    // The send in flight: the memory being sent and how far it got; then, optionally, a second piece (a direct send).
    private ReadOnlyMemory<byte> _sending;
    private ReadOnlyMemory<byte> _then;
    private int _sendingFlag;
    private Exception? _error;
    private volatile bool _completed;

    /// <param name="epoll">The socket on the epoll engine; null: .NET's socket engine.</param>
    public RawSocketWriter(Socket socket, EpollSocket? epoll, ListenerByteCounters? counters, bool inlineContinuations)
    {
        _socket = socket;
        _epoll = epoll;
        _counters = counters;
        _source.RunContinuationsAsynchronously = !inlineContinuations;
        if (epoll is not null)
        {
            epoll.SetSender(this);
            return;
        }

        _args = new SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true);
        _args.Completed += static (_, args) => ((RawSocketWriter)args.UserToken!).OnSendCompleted();
        _args.UserToken = this;
    }

    /// <summary>Bytes held for this connection now (tests: idle connections hold none).</summary>
    public int BufferedCapacity => _buffer?.Length ?? 0;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written;

    public override void Advance(int bytes)
    {
        if ((uint)bytes > (uint)((_buffer?.Length ?? 0) - _written))
        {
            throw new ArgumentOutOfRangeException(nameof(bytes));
        }

        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(_written);

    public override Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(_written);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_written == 0)
        {
            return _error is null ? default : ValueTask.FromException<FlushResult>(_error);
        }

        return Send(_buffer.AsMemory(0, _written), default);
    }

    /// <summary>
    /// Writes <paramref name="data"/> and sends it with whatever is buffered: a small piece is copied behind the
    /// buffered bytes (one send); a large one is sent from <paramref name="data"/> itself right after them.
    /// </summary>
    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (data.Length < DirectSendThreshold)
        {
            data.Span.CopyTo(GetSpan(data.Length));
            _written += data.Length;
            return FlushAsync(cancellationToken);
        }

        return _written == 0 ? Send(data, default) : Send(_buffer.AsMemory(0, _written), data);
    }

    public override void CancelPendingFlush()
    {
        // Sends are not cancellable; an abort closes the socket, which ends the send.
    }

    public override void Complete(Exception? exception = null)
    {
        _completed = true;
        if (Volatile.Read(ref _sendingFlag) == 0)
        {
            ReturnBuffer();
        }
    }

    /// <summary>After the socket was closed: the buffer goes back once no send can read from it.</summary>
    public void Dispose()
    {
        _completed = true;
        if (Volatile.Read(ref _sendingFlag) == 0)
        {
            ReturnBuffer();
            _args?.Dispose();
        }
    }

    void IEpollSendCompletion.OnSendCompleted(int result)
    {
        _epollResult = result;
        OnSendCompleted();
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    private byte[] Ensure(int sizeHint)
    {
        if (Volatile.Read(ref _sendingFlag) == 1)
        {
            throw new InvalidOperationException("A write was started while the previous flush is still in progress.");
        }

        int needed = Math.Max(sizeHint, 1);
        var buffer = _buffer;
        if (buffer is null)
        {
            buffer = _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, InitialBufferSize));
        }
        else if (buffer.Length - _written < needed)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, _written + needed));
            Buffer.BlockCopy(buffer, 0, bigger, 0, _written);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = _buffer = bigger;
        }

        return buffer;
    }

    private ValueTask<FlushResult> Send(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> then)
    {
        if (_error is not null)
        {
            return ValueTask.FromException<FlushResult>(_error);
        }

        _sending = first;
        _then = then;
        _sendingFlag = 1;
        _source.Reset();
        if (SendLoop())
        {
            return new ValueTask<FlushResult>(this, _source.Version);
        }

        Volatile.Write(ref _sendingFlag, 0);
        return FinishSend() is { } error ? ValueTask.FromException<FlushResult>(error) : default;
    }

    /// <summary>Sends until done or a send is in flight (true).</summary>
    private bool SendLoop()
    {
        while (true)
        {
            if (_sending.IsEmpty)
            {
                if (_then.IsEmpty)
                {
                    return false;
                }

                _sending = _then;
                _then = default;
            }

            bool pending;
            if (_epoll is not null)
            {
                _epollResult = _epoll.Send(_sending);
                pending = _epollResult == EpollSocket.Pending;
            }
            else
            {
                _args!.SetBuffer(System.Runtime.InteropServices.MemoryMarshal.AsMemory(_sending));
                try
                {
                    pending = _socket.SendAsync(_args);
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

            if (!ProcessSend())
            {
                return false;
            }
        }
    }

    /// <summary>A completed send. False: failed.</summary>
    private bool ProcessSend()
    {
        int n;
        if (_epoll is not null)
        {
            n = _epollResult;
            if (n < 0)
            {
                _error = SocketFailure.From(n == EpollSocket.Canceled ? SocketError.OperationAborted : SocketErrors.FromErrno(-n), "Send");
                return false;
            }
        }
        else
        {
            var error = _args!.SocketError;
            if (error != SocketError.Success)
            {
                _error = SocketFailure.From(error, "Send");
                return false;
            }

            n = _args.BytesTransferred;
        }

        _counters?.Sent(n);
        _sending = _sending[n..];
        return true;
    }

    /// <summary>The send is over: the buffer goes back (an idle connection holds none). Returns the failure, if any.</summary>
    private Exception? FinishSend()
    {
        _sending = default;
        _then = default;
        _written = 0;
        ReturnBuffer();
        if (_completed)
        {
            _args?.Dispose();
        }

        return _error;
    }

    private void OnSendCompleted()
    {
        if (ProcessSend() && SendLoop())
        {
            return;
        }

        Volatile.Write(ref _sendingFlag, 0);
        if (FinishSend() is { } error)
        {
            _source.SetException(error);
        }
        else
        {
            _source.SetResult(default);
        }
    }

    private void ReturnBuffer()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
