namespace Turnpike.Sockets;

/// <summary>The owner of an <see cref="EpollSocket"/>'s receive side: told when a receive that went pending ends.</summary>
internal interface IEpollReceiveCompletion
{
    /// <param name="result">Bytes received (0: end of stream, or readable after a wait-only receive), −errno, or
    /// <see cref="EpollSocket.Canceled"/>. Runs on the engine thread, or on the thread that cancelled or closed.</param>
    void OnReceiveCompleted(int result);
}

/// <summary>The owner of an <see cref="EpollSocket"/>'s send side: told when a send (or connect wait) that went pending ends.</summary>
internal interface IEpollSendCompletion
{
    /// <param name="result">Bytes sent (0: writable after a wait-only send), −errno, or <see cref="EpollSocket.Canceled"/>.</param>
    void OnSendCompleted(int result);
}
