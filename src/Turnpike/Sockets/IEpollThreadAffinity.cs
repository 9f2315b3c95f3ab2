namespace Turnpike.Sockets;

/// <summary>
/// A request whose client connection is registered with the epoll engine (the raw listener's connection, whose features
/// are its context's feature collection): the upstream client rents and opens its connections on the same engine
/// thread, so one thread serves the whole exchange — even a connection's first request, which starts on a thread-pool
/// thread. An upstream connection on another thread handed every response to it: a cross-thread wake-up per
/// request, and the request's pooled objects (header dictionaries, state machine boxes) rented on one thread and
/// returned on the other, so the renting thread's pool never refilled and every request allocated new ones.
/// </summary>
internal interface IEpollThreadAffinity
{
    /// <summary>The engine thread of the client connection; null when it is not on the epoll engine.</summary>
    EpollThread? EngineThread { get; }
}
