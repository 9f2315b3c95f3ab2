using System.Net;
using System.Net.Sockets;
using Turnpike.Sockets;

namespace Turnpike.Connections;

/// <summary>
/// Connects for the raw upstream client on the epoll engine (<see cref="EpollChannel"/>): the same DNS cache, address
/// failover, TCP_NODELAY, and the same errors and cancellation as <see cref="ConnectAsync(string, int, CancellationToken)"/>,
/// but the socket never joins .NET's socket engine.
/// </summary>
internal sealed partial class UpstreamConnector
{
    /// <param name="thread">The engine thread the socket is registered with (null: the calling one, else round robin).</param>
    internal ValueTask<EpollChannel> ConnectEpollAsync(string host, int port, EpollThread? thread, CancellationToken cancellationToken) =>
        thread is null
            ? ConnectAsync(host, port, s_connectEpoll, cancellationToken)
            : ConnectAsync(host, port, (socket, endPoint, token) => EpollChannel.ConnectAsync(socket, endPoint, thread, token), cancellationToken); // per connection, not per request

    private static readonly Func<Socket, IPEndPoint, CancellationToken, ValueTask<EpollChannel>> s_connectEpoll =
        static (socket, endPoint, cancellationToken) => EpollChannel.ConnectAsync(socket, endPoint, null, cancellationToken);
}
