using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Turnpike.Sockets;

/// <summary>
/// An <see cref="EpollSocket"/> behind awaitable receive, send and connect calls (the raw upstream client's socket):
/// completed calls return at once without allocating; a pending one is one reused <see cref="IValueTaskSource{T}"/>
/// per direction. A cancellation token is registered only while a call is pending (a receive waiting for the
/// upstream's answer), and its callback ends the wait from the cancelling thread.
/// <para>
/// Errors as .NET's socket calls report them: <see cref="SocketException"/> (a closed socket:
/// <see cref="SocketError.OperationAborted"/>), and <see cref="OperationCanceledException"/> for the token.
/// </para>
/// </summary>
internal sealed class EpollChannel : IEpollReceiveCompletion, IEpollSendCompletion
{
    private static readonly Action<object?> CancelReceiveCallback = static state => ((EpollChannel)state!).Socket.CancelReceive();
    private static readonly Action<object?> CancelSendCallback = static state => ((EpollChannel)state!).Socket.CancelSend();

    private readonly Operation _receive = new();
    private readonly Operation _send = new();

    private EpollChannel(EpollSocket socket)
    {
        Socket = socket;
        socket.SetReceiver(this);
        socket.SetSender(this);
    }

    public EpollSocket Socket { get; }

    /// <summary>A connected socket onto the engine (registered once).</summary>
    public static EpollChannel Attach(Socket socket) => new(SocketEngine.Register(socket, upstream: true));

    /// <summary>
    /// Connects <paramref name="socket"/> (new, not yet connected) to <paramref name="endPoint"/> without blocking: the
    /// connect starts, the socket joins the engine (registered once) and the wait for writability is an edge like any
    /// other; the outcome is SO_ERROR. The socket is not closed on failure (the caller owns it).
    /// </summary>
    public static async ValueTask<EpollChannel> ConnectAsync(Socket socket, IPEndPoint endPoint, EpollThread? thread, CancellationToken cancellationToken)
    {
        socket.Blocking = false;
        var connecting = false;
        try
        {
            socket.Connect(endPoint);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            connecting = true;
        }

        var channel = new EpollChannel(SocketEngine.Register(socket, connecting, upstream: true, thread));
        if (connecting)
        {
            try
            {
                await channel.WaitWritableAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                channel.Close();
                throw;
            }

            var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            if (error != SocketError.Success)
            {
                channel.Close();
                throw new SocketException((int)error);
            }
        }

        return channel;
    }

    /// <summary>Receives into <paramref name="buffer"/>: bytes (0: end of stream).</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        var operation = _receive;
        operation.Core.Reset();
        var result = Socket.Receive(buffer);
        if (result != EpollSocket.Pending)
        {
            return result >= 0 ? new ValueTask<int>(result) : ValueTask.FromException<int>(ToException(result, cancellationToken));
        }

        return operation.Wait(cancellationToken, CancelReceiveCallback, this);
    }

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        while (!data.IsEmpty)
        {
            _send.Core.Reset();
            var result = Socket.Send(data);
            if (result == EpollSocket.Pending)
            {
                return SendPendingAsync(data, _send.Wait(cancellationToken, CancelSendCallback, this), cancellationToken);
            }

            if (result < 0)
            {
                return ValueTask.FromException(ToException(result, cancellationToken));
            }

            data = data[result..];
        }

        return default;
    }

    /// <summary>Leaves the engine; pending calls end with <see cref="SocketError.OperationAborted"/>. The owner disposes the <see cref="System.Net.Sockets.Socket"/>.</summary>
    public void Close() => Socket.Close();

    void IEpollReceiveCompletion.OnReceiveCompleted(int result) => _receive.Complete(result);

    void IEpollSendCompletion.OnSendCompleted(int result) => _send.Complete(result);

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder))]
    private async ValueTask SendPendingAsync(ReadOnlyMemory<byte> data, ValueTask<int> pending, CancellationToken cancellationToken)
    {
        var sent = await pending.ConfigureAwait(false);
        data = data[sent..];
        while (!data.IsEmpty)
        {
            _send.Core.Reset();
            var result = Socket.Send(data);
            sent = result == EpollSocket.Pending ? await _send.Wait(cancellationToken, CancelSendCallback, this).ConfigureAwait(false)
                : result >= 0 ? result
                : throw ToException(result, cancellationToken);
            data = data[sent..];
        }
    }

    private async ValueTask WaitWritableAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _send.Core.Reset();
        var result = Socket.Send(ReadOnlyMemory<byte>.Empty);
        if (result == EpollSocket.Pending)
        {
            await _send.Wait(cancellationToken, CancelSendCallback, this).ConfigureAwait(false);
        }
        else if (result < 0)
        {
            throw ToException(result, cancellationToken);
        }
    }

    private static Exception ToException(int result, CancellationToken cancellationToken) =>
        result == EpollSocket.Canceled ? new OperationCanceledException(cancellationToken) : new SocketException((int)SocketErrors.FromErrno(-result));

    /// <summary>One direction's pending call: the reused value-task source and the token registration while it waits.</summary>
    private sealed class Operation : IValueTaskSource<int>
    {
        public ManualResetValueTaskSourceCore<int> Core;
        private CancellationTokenRegistration _registration;
        private CancellationToken _token;

        public ValueTask<int> Wait(CancellationToken cancellationToken, Action<object?> cancel, EpollChannel channel)
        {
            var version = Core.Version;
            if (cancellationToken.CanBeCanceled)
            {
                _token = cancellationToken;
                _registration = cancellationToken.UnsafeRegister(cancel, channel);
                if (Core.GetStatus(version) != ValueTaskSourceStatus.Pending)
                {
                    // Completed while registering (or by it): no registration may outlive the call.
                    _registration.Unregister();
                    _registration = default;
                }
            }

            return new ValueTask<int>(this, version);
        }

        public void Complete(int result)
        {
            var registration = _registration;
            _registration = default;
            registration.Unregister();
            var token = _token;
            _token = default;
            if (result >= 0)
            {
                Core.SetResult(result);
            }
            else
            {
                Core.SetException(ToException(result, token));
            }
        }

        public int GetResult(short token) => Core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => Core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            Core.OnCompleted(continuation, state, token, flags);
    }
}
