namespace Turnpike.Http1;

/// <summary>
/// A request whose abort can cancel one <see cref="CancellationTokenSource"/> directly, without a callback registered on
/// <c>RequestAborted</c> (the raw listener's connection: its features are the context's feature collection). The
/// upstream client links the exchange's activity source for the exchange's duration: no registration node, no lock
/// on the request's token source, and no cache line of it touched per exchange.
/// </summary>
internal interface IRequestAbortLink
{
    /// <summary>From now until <see cref="Unlink"/>, aborting the request cancels <paramref name="source"/> (at once if it is already aborted).</summary>
    void Link(CancellationTokenSource source);

    /// <summary>
    /// Ends the link. False when an abort took it: that abort cancels (or is cancelling, perhaps on another thread) the
    /// linked source, so whatever the source guards must not be reused.
    /// </summary>
    bool Unlink();
}
