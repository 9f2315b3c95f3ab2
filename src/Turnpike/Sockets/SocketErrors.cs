using System.Net.Sockets;

namespace Turnpike.Sockets;

/// <summary>Linux errno values of failed socket calls as the <see cref="SocketError"/> .NET's own socket layer reports for them.</summary>
internal static class SocketErrors
{
    public static SocketError FromErrno(int errno) => errno switch
    {
        EpollInterop.ECanceled or EpollInterop.EBadF => SocketError.OperationAborted,
        EpollInterop.EAgain => SocketError.WouldBlock,
        EpollInterop.EIntr => SocketError.Interrupted,
        32 => SocketError.Shutdown, // EPIPE
        101 => SocketError.NetworkUnreachable,
        103 => SocketError.ConnectionAborted,
        104 => SocketError.ConnectionReset,
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        111 => SocketError.ConnectionRefused,
        113 => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };
}
