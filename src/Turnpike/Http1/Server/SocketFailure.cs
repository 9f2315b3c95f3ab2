using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Turnpike.Http1.Server;

/// <summary>What a failed receive or send of a raw connection reports: an abort as Kestrel reports it, else an I/O error.</summary>
internal static class SocketFailure
{
    public static Exception From(SocketError error, string operation) =>
        error is SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown
            ? new ConnectionAbortedException("The connection was aborted.")
            : new IOException($"{operation} failed: {error}.", new SocketException((int)error));
}
