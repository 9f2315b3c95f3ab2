using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Turnpike.Connections;

/// <summary>
/// The <see cref="SocketsHttpHandler.ConnectCallback"/> of a cluster: host names go through the cluster's
/// <see cref="DnsCache"/>, IP literals connect directly; sockets get the configured TCP_NODELAY.
/// </summary>
/// <remarks>
/// Errors keep the shape of SocketsHttpHandler's own connect: a failed connect throws the
/// <see cref="SocketException"/> of the last address tried (the handler wraps it in an
/// <see cref="HttpRequestException"/>), and cancellation — including the handler's <c>ConnectTimeout</c>, which
/// arrives as <paramref name="cancellationToken"/> of <see cref="ConnectAsync"/> — throws an
/// <see cref="OperationCanceledException"/> for that token, which the handler turns into its connect-timeout error.
/// </remarks>
internal sealed partial class UpstreamConnector(DnsCache dns, bool noDelay, ILogger logger)
{
    public DnsCache Dns => dns;

    public bool NoDelay => noDelay;

    public ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken);

    /// <param name="host">A host name, or an IP literal (IPv6 with or without brackets), which bypasses the cache.</param>
    internal ValueTask<Stream> ConnectAsync(string host, int port, CancellationToken cancellationToken) =>
        ConnectAsync(host, port, s_connectStream, cancellationToken);

    /// <summary>.NET's socket engine: a connected <see cref="NetworkStream"/> that owns the socket.</summary>
    private static readonly Func<Socket, IPEndPoint, CancellationToken, ValueTask<Stream>> s_connectStream =
        static async (socket, endPoint, cancellationToken) =>
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        };

    /// <summary>Resolves <paramref name="host"/> (an IP literal connects directly) and connects one address after
    /// another with <paramref name="connect"/> until one answers.</summary>
    private ValueTask<T> ConnectAsync<T>(string host, int port, Func<Socket, IPEndPoint, CancellationToken, ValueTask<T>> connect, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host, out var address)
            ? ConnectToAddressAsync(address, port, connect, cancellationToken)
            : ConnectToHostAsync(host, port, connect, cancellationToken);

    private async ValueTask<T> ConnectToHostAsync<T>(string host, int port, Func<Socket, IPEndPoint, CancellationToken, ValueTask<T>> connect, CancellationToken cancellationToken)
    {
        var (addresses, start) = await dns.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        for (var i = 0; ; i++)
        {
            var address = addresses[(start + i) % addresses.Length];
            try
            {
                return await ConnectToAddressAsync(address, port, connect, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex) when (i + 1 < addresses.Length && !cancellationToken.IsCancellationRequested)
            {
                // Refused or unreachable: the next address of the host may answer. The last failure is the one thrown.
                LogTryingNextAddress(logger, host, address, port, ex.SocketErrorCode);
            }
        }
    }

    private async ValueTask<T> ConnectToAddressAsync<T>(IPAddress address, int port, Func<Socket, IPEndPoint, CancellationToken, ValueTask<T>> connect, CancellationToken cancellationToken)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            // An IPv6 socket reaches these only in dual mode, which is not available everywhere.
            address = address.MapToIPv4();
        }

        Socket? socket = null;
        try
        {
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = noDelay };
            return await connect(socket, new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connecting to {Host} at {Address}:{Port} failed ({Error}); trying its next address")]
    private static partial void LogTryingNextAddress(ILogger logger, string host, IPAddress address, int port, SocketError error);
}
