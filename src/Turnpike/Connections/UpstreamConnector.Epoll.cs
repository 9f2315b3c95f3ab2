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
        IPAddress.TryParse(host, out var address)
            ? ConnectEpollToAddressAsync(address, port, cancellationToken)
            : ConnectEpollToHostAsync(host, port, cancellationToken);

    private async ValueTask<EpollChannel> ConnectEpollToHostAsync(string host, int port, CancellationToken cancellationToken)
    {
        var (addresses, start) = await dns.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        for (var i = 0; ; i++)
        {
            var address = addresses[(start + i) % addresses.Length];
            try
            {
                return await ConnectEpollToAddressAsync(address, port, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex) when (i + 1 < addresses.Length && !cancellationToken.IsCancellationRequested)
            {
                LogTryingNextAddress(logger, host, address, port, ex.SocketErrorCode);
            }
        }
    }

    private async ValueTask<EpollChannel> ConnectEpollToAddressAsync(IPAddress address, int port, CancellationToken cancellationToken)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Socket? socket = null;
        try
        {
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = noDelay };
            return await EpollChannel.ConnectAsync(socket, new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            socket?.Dispose();
            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }
}
