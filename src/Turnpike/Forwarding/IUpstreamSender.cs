using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.Forwarding;

/// <summary>
/// The one seam through which a request goes upstream. Today it is YARP's <c>IHttpForwarder</c>; a raw-socket
/// HTTP/1.1 client can replace it without touching routing, balancing or retries.
/// </summary>
internal interface IUpstreamSender
{
    /// <summary>
    /// Sends the request to <paramref name="destination"/> and copies the response back. Never throws for upstream
    /// failures: they come back as an <see cref="UpstreamResult"/>, with the response left untouched when it has not started.
    /// </summary>
    /// <param name="started">The timestamp the attempt started at (0: not known): the caller read the clock already,
    /// and a sender may use it instead of its own read.</param>
    ValueTask<UpstreamResult> SendAsync(HttpContext context, RouteModel route, DestinationModel destination, CancellationToken cancellationToken, long started);
}
