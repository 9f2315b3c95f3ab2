using System.IO.Pipelines;
using System.Net.Sockets;

namespace Turnpike.Http1.Server;

/// <summary>
/// Client-disconnect detection while the app runs (as Kestrel, which keeps reading the socket): once the request body
/// is fully read, one pending read watches the socket. End of stream → the request is aborted (RequestAborted fires,
/// so YARP cancels the upstream call). Bytes (a pipelined next request) are left unconsumed for the next head.
/// </summary>
internal sealed partial class RawConnection
{
    private Task? _monitor;
    private bool _appRunning;
    private volatile bool _clientClosed;

    private void StartDisconnectMonitor()
    {
        if (!_appRunning || !_bodyDone || _upgradeRequest || _monitor is not null || Volatile.Read(ref _closed) == 1)
        {
            return;
        }

        _monitor = MonitorAsync();
    }

    private async Task MonitorAsync()
    {
        try
        {
            ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!result.IsCanceled && result.IsCompleted && buffer.IsEmpty)
            {
                _input.AdvanceTo(buffer.End);
                _clientClosed = true;
                _keepAlive = false;
                CancelRequest();
                return;
            }

            // Nothing consumed and nothing examined: the next read returns these bytes at once.
            _input.AdvanceTo(buffer.Start);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            _clientClosed = true;
            CancelRequest();
        }
    }

    private async ValueTask StopDisconnectMonitorAsync()
    {
        var monitor = _monitor;
        if (monitor is null)
        {
            return;
        }

        _monitor = null;
        if (!monitor.IsCompleted)
        {
            _input.CancelPendingRead();
        }

        await monitor.ConfigureAwait(false);
    }
}
