using System.IO.Pipelines;

namespace Turnpike.Http1.Server;

/// <summary>
/// Client-disconnect detection while the app runs (as Kestrel, which keeps reading the socket): once the request body
/// is fully read, the reader keeps a receive armed with nobody waiting on it (<see cref="RawSocketReader.Watch"/>).
/// End of stream → the request is aborted (RequestAborted fires, so YARP cancels the upstream call). Otherwise the
/// receive is left as it is when the app finishes: what it brings (the next request's bytes) is the next request
/// head's first read, so watching costs no extra system call, no cancellation and no async method of its own.
/// </summary>
internal sealed partial class RawConnection : IReadWatcher
{
    private bool _monitoring;
    private bool _appRunning;
    private volatile bool _clientClosed;

    private void StartDisconnectMonitor()
    {
        if (!_appRunning || !_bodyDone || _upgradeRequest || _monitoring || Volatile.Read(ref _closed) == 1)
        {
            return;
        }

        _monitoring = true;
        _input.Watch(this);
    }

    /// <summary>The client's stream ended (FIN or error, nothing buffered) while the reader was watching.</summary>
    void IReadWatcher.OnReadEnded()
    {
        if (_appRunning)
        {
            _clientClosed = true;
            _keepAlive = false;
            CancelRequest();
        }
    }

    /// <summary>The next read of the connection (the watching receive, if one is armed, is the one it waits for).</summary>
    private ValueTask<ReadResult> ReadInputAsync()
    {
        if (_monitoring)
        {
            _monitoring = false;
            _input.StopWatching();
        }

        return _input.ReadAsync();
    }
}
