using Microsoft.AspNetCore.Http;
using Turnpike.Pipeline;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Concurrency;

/// <summary>
/// Wraps the transformer of a route whose cluster has an adaptive concurrency limit, to note when the upstream's
/// response headers arrived: the limiter's latency sample is time to headers, so a long (or bandwidth-shaped)
/// body does not read as upstream latency.
/// </summary>
internal sealed class HeadersTimingTransformer(HttpTransformer inner, TimeProvider time) : HttpTransformer
{
    public HttpTransformer Inner => inner;

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken) =>
        inner.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null && httpContext.Features.Get<IGatewayRequestFeature>() is GatewayRequestFeature feature)
        {
            feature.ResponseHeadersTimestamp = time.GetTimestamp();
        }

        return inner.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
    }

    public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken) =>
        inner.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);
}
