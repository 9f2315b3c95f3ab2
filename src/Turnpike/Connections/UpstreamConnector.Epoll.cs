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
    internal ValueTask<EpollChannel> ConnectEpollAsync(string host, int port, CancellationToken cancellationToken) =>
        ConnectAsync(host, port, s_connectEpoll, cancellationToken);

    private static readonly Func<Socket, IPEndPoint, CancellationToken, ValueTask<EpollChannel>> s_connectEpoll =
        static (socket, endPoint, cancellationToken) => EpollChannel.ConnectAsync(socket, endPoint, cancellationToken);
}
