using System.Runtime.CompilerServices;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Turnpike.Http1.Server;

/// <summary>
/// Client-disconnect detection while the app runs (as Kestrel, which keeps reading the socket): once the request body
/// is fully read, one read is left pending on the connection. End of stream → the request is aborted (RequestAborted
/// fires, so YARP cancels the upstream call). Otherwise the read is not cancelled when the app finishes: its result
/// (the next request's bytes, or still pending) becomes the first read of the next request head, so watching costs
/// no extra system call and no cancellation.
/// </summary>
internal sealed partial class RawConnection
{
    private ValueTask<ReadResult> _monitor;
    private bool _monitoring;
    private bool _appRunning;
    private volatile bool _clientClosed;

    private void StartDisconnectMonitor()
    {
        if (!_appRunning || !_bodyDone || _upgradeRequest || _monitoring || Volatile.Read(ref _closed) == 1)
        {
            return;
        }

        _monitor = MonitorAsync();
        _monitoring = true;
    }

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> MonitorAsync()
    {
        try
        {
            ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
            if (!result.IsCanceled && result.IsCompleted && result.Buffer.IsEmpty && _appRunning)
            {
                _clientClosed = true;
                _keepAlive = false;
                CancelRequest();
            }

            return result;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _clientClosed = true;
            CancelRequest();
            throw;
        }
    }

    /// <summary>The next read of the connection: the watching read when one is outstanding, else a new one.</summary>
    private ValueTask<ReadResult> ReadInputAsync()
    {
        if (!_monitoring)
        {
            return _input.ReadAsync();
        }

        _monitoring = false;
        var monitor = _monitor;
        _monitor = default;
        return monitor;
    }
}
