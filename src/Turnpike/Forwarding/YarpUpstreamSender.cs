using System.Net.Http;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Turnpike.Model;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Forwarding;

/// <summary>Sends through YARP's <see cref="IHttpForwarder"/> with the route's YARP transformer.</summary>
internal sealed class YarpUpstreamSender(IHttpForwarder forwarder) : IUpstreamSender
{
    /// <summary>HTTP/2 error code REFUSED_STREAM (RFC 9113 §7): the stream was refused before any processing.</summary>
    private const long RefusedStream = 0x7;

    /// <remarks><paramref name="started"/> is not used: YARP's forwarder keeps its own timings.</remarks>
    public ValueTask<UpstreamResult> SendAsync(HttpContext context, RouteModel route, DestinationModel destination, CancellationToken cancellationToken, long started)
    {
        var cluster = route.Cluster;
        var pending = forwarder.SendAsync(context, destination.Address, cluster.Invoker, cluster.RequestConfig, route.Transformer, cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            return new ValueTask<UpstreamResult>(Classify(context, pending.Result, cancellationToken));
        }

        return AwaitAsync(context, pending, cancellationToken);
    }

    private static async ValueTask<UpstreamResult> AwaitAsync(HttpContext context, ValueTask<ForwarderError> pending, CancellationToken cancellationToken) =>
        Classify(context, await pending.ConfigureAwait(false), cancellationToken);

    internal static UpstreamResult Classify(HttpContext context, ForwarderError error, CancellationToken cancellationToken)
    {
        if (error == ForwarderError.None)
        {
            // YARP sets the upstream's status before the transformer copies the headers, so this is the upstream's
            // status even when the retrying transformer held the answer back.
            return UpstreamResult.Success(context.Response.StatusCode);
        }

        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        switch (error)
        {
            case ForwarderError.RequestTimedOut:
                // SocketsHttpHandler reports its ConnectTimeout as a cancellation wrapping a TimeoutException, which
                // YARP files under RequestTimedOut; the activity timeout's cancellation carries no TimeoutException.
                return HasTimeoutException(exception)
                    ? new(UpstreamOutcome.ConnectTimeout, GatewayErrorCode.ConnectTimeout, exception)
                    : new(UpstreamOutcome.Timeout, GatewayErrorCode.UpstreamTimeout, exception);
            case ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.UpgradeRequestCanceled:
                // Our own request timeout cancels the token we passed; the client aborting cancels RequestAborted.
                return cancellationToken.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested
                    ? new(UpstreamOutcome.Timeout, GatewayErrorCode.UpstreamTimeout, exception)
                    : new(UpstreamOutcome.ClientError, GatewayErrorCode.ClientBodyError, exception);
            case ForwarderError.RequestBodyClient or ForwarderError.UpgradeRequestClient:
                return new(UpstreamOutcome.ClientError, GatewayErrorCode.ClientBodyError, exception);
            case ForwarderError.Request:
                return ClassifyRequestException(exception);
            default:
                // Body copy failures after the response started, upgrade failures, broken response headers.
                return new(UpstreamOutcome.UpstreamError, error is ForwarderError.ResponseBodyDestination or ForwarderError.UpgradeResponseDestination or ForwarderError.RequestBodyDestination
                    ? GatewayErrorCode.UpstreamReset : GatewayErrorCode.UpstreamError, exception);
        }
    }

    private static bool HasTimeoutException(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    private static UpstreamResult ClassifyRequestException(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException)
            {
                return new(UpstreamOutcome.ConnectTimeout, GatewayErrorCode.ConnectTimeout, exception);
            }

            if (e is SocketException socket)
            {
                return socket.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                    or SocketError.HostNotFound or SocketError.TryAgain or SocketError.AddressNotAvailable
                    ? new(UpstreamOutcome.ConnectFailed, GatewayErrorCode.ConnectionRefused, exception)
                    : socket.SocketErrorCode == SocketError.TimedOut
                        ? new(UpstreamOutcome.ConnectTimeout, GatewayErrorCode.ConnectTimeout, exception)
                        : new(UpstreamOutcome.UpstreamError, GatewayErrorCode.UpstreamReset, exception);
            }

            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } && e.InnerException is null)
            {
                return new(UpstreamOutcome.ConnectFailed, GatewayErrorCode.ConnectionRefused, exception);
            }

            if (e is HttpProtocolException { ErrorCode: RefusedStream })
            {
                return new(UpstreamOutcome.Refused, GatewayErrorCode.UpstreamReset, exception);
            }

            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } or HttpIOException or IOException)
            {
                return new(UpstreamOutcome.UpstreamError, GatewayErrorCode.UpstreamReset, exception);
            }
        }

        return new(UpstreamOutcome.UpstreamError, GatewayErrorCode.UpstreamError, exception);
    }
}
