namespace Turnpike.Http1.Server;

/// <summary>Told when the client's stream ends while a <see cref="RawSocketReader"/> watches with no read waiting.</summary>
internal interface IReadWatcher
{
    /// <summary>End of stream or a receive error, with no unread bytes (runs on the thread that completed the receive).</summary>
    void OnReadEnded();
}
