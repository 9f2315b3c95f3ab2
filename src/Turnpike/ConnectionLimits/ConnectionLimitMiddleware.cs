using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Turnpike.ConnectionLimits;

/// <summary>
/// Kestrel connection middleware (<c>ListenOptions.Use</c>), first in the listener's chain, before TLS and HTTP: a
/// connection over a limit is aborted before a single byte is read from it.
/// </summary>
internal sealed partial class ConnectionLimitMiddleware(ConnectionDelegate next, ListenerConnectionLimiter limiter, ILogger logger)
{
    public Task OnConnectionAsync(ConnectionContext connection)
    {
        var verdict = limiter.TryAccept(connection.RemoteEndPoint, out var entry);
        if (verdict != ConnectionVerdict.Accepted)
        {
            LogRejected(logger, limiter.Name, connection.RemoteEndPoint, verdict);
            connection.Abort(new ConnectionAbortedException("Connection limit reached."));
            return Task.CompletedTask;
        }

        return RunAsync(connection, entry);
    }

    private async Task RunAsync(ConnectionContext connection, IpEntry? entry)
    {
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            limiter.Release(entry);
        }
    }

    // Debug: a flood would otherwise turn into a log flood. The counters on /admin/connections tell the story.
    [LoggerMessage(70, LogLevel.Debug, "Listener {Listener}: connection from {Remote} refused ({Reason})")]
    private static partial void LogRejected(ILogger logger, string listener, System.Net.EndPoint? remote, ConnectionVerdict reason);
}
