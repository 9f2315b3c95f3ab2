using System.Net;

namespace Turnpike.Connections;

/// <summary>Looks up the addresses of a host name. The seam behind <see cref="DnsCache"/>; tests substitute their own answers.</summary>
internal interface IHostResolver
{
    /// <summary>The host's addresses; throws (normally a <see cref="System.Net.Sockets.SocketException"/>) when the name does not resolve.</summary>
    ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The operating system's resolver (<see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>).</summary>
internal sealed class SystemHostResolver : IHostResolver
{
    public static SystemHostResolver Instance { get; } = new();

    public ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        new(Dns.GetHostAddressesAsync(host, cancellationToken));
}
