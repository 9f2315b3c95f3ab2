using System.Net;
using System.Net.Sockets;

namespace Turnpike.Tools.Bench;

/// <summary>
/// Load goes to loopback only unless the user says otherwise: a target host is resolved and every address it
/// resolves to must be in 127.0.0.0/8 or be ::1 (or an IPv4-mapped loopback address).
/// </summary>
public static class TargetGuard
{
    public static bool IsLoopback(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return address.AddressFamily == AddressFamily.InterNetwork
            ? address.GetAddressBytes()[0] == 127
            : address.Equals(IPAddress.IPv6Loopback);
    }

    /// <summary>Resolves <paramref name="host"/>; null when every address is loopback, else the reason it is refused.</summary>
    public static async Task<string?> CheckAsync(string host, bool allowRemote, CancellationToken cancellationToken = default)
    {
        if (allowRemote)
        {
            return null;
        }

        IPAddress[] addresses;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                return $"cannot resolve '{host}': {ex.Message}";
            }
        }

        foreach (var address in addresses)
        {
            if (!IsLoopback(address))
            {
                return $"'{host}' resolves to {address}, which is not a loopback address; load goes to 127.0.0.0/8 and ::1 only unless --allow-remote is given";
            }
        }

        return addresses.Length == 0 ? $"'{host}' resolves to no address" : null;
    }
}
