using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Turnpike.Pipeline;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Retries;

/// <summary>
/// Wraps a route's YARP transformer (once per route, at config load) to hold back upstream answers that will be
/// retried. YARP copies the status and then asks the transformer to copy the headers; returning false there makes YARP
/// drop the response body and return <see cref="ForwarderError.None"/> with nothing sent to the client. So when the
/// attempt may still be retried (the handler says so in <see cref="GatewayRetryFeature.RetryOnStatusAllowed"/>),
/// the status is one the route retries, any Retry-After is short enough and the cluster's budget grants a retry, the
/// status is recorded in the request's feature and nothing is copied. Every other answer, including the one from the
/// last permitted attempt, goes through the inner transformer untouched.
/// </summary>
internal sealed class RetryingTransformer(HttpTransformer inner, RetryPolicy policy, RetryBudget budget, TimeProvider time) : HttpTransformer
{
    public HttpTransformer Inner => inner;

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken) =>
        inner.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null && httpContext.Features.Get<IGatewayRequestFeature>() is GatewayRetryFeature feature)
        {
            // Headers arrived: the per-try limit is over; the body is the overall timeout's business.
            feature.PerTryTimeout?.CancelAfter(Timeout.InfiniteTimeSpan);
            var status = (int)proxyResponse.StatusCode;
            TimeSpan? delay = null;
            if (feature.RetryOnStatusAllowed && policy.IsRetryableStatus(status)
                && (status is not (429 or 503) || policy.AcceptsRetryAfter(status, RetryAfterOf(proxyResponse), time.GetUtcNow(), out delay))
                && budget.TryWithdraw())
            {
                feature.RetryStatus = status;
                feature.RetryAfter = delay;
                return new ValueTask<bool>(false);
            }
        }

        return inner.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
    }

    public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken) =>
        inner.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);

    private static ReadOnlySpan<char> RetryAfterOf(HttpResponseMessage response)
    {
        if (response.Headers.NonValidated.TryGetValues(HeaderNames.RetryAfter, out var values))
        {
            foreach (var value in values)
            {
                return value;
            }
        }

        return default;
    }
}
