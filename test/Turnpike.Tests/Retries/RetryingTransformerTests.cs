using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Pipeline;
using Turnpike.Retries;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Tests.Retries;

public sealed class RetryingTransformerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 4, 12, 0, 0, TimeSpan.Zero));

    private (RetryingTransformer Transformer, RetryBudget Budget) Create(RouteRetryConfig? config = null, RetryBudgetConfig? budgetConfig = null)
    {
        var time = _time;
        var policy = RetryPolicy.Create(config ?? new RouteRetryConfig { Statuses = [429, 503] }, 2);
        var budget = new RetryBudget(budgetConfig ?? new RetryBudgetConfig(), time);
        return (new RetryingTransformer(HttpTransformer.Default, policy, budget, time), budget);
    }

    private static (DefaultHttpContext Context, GatewayRetryFeature Feature) Context(bool mayRetry)
    {
        var context = new DefaultHttpContext();
        var feature = new GatewayRetryFeature { RetryOnStatusAllowed = mayRetry };
        context.Features.Set<IGatewayRequestFeature>(feature);
        return (context, feature);
    }

    private static HttpResponseMessage Response(HttpStatusCode status, string? retryAfter = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent("body") };
        response.Headers.TryAddWithoutValidation("x-upstream", "1");
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }

        return response;
    }

    [Fact]
    public async Task HoldsBackARetryableStatusWithoutCopyingHeaders()
    {
        var (transformer, budget) = Create();
        var (context, feature) = Context(mayRetry: true);
        using var response = Response(HttpStatusCode.ServiceUnavailable);
        Assert.False(await transformer.TransformResponseAsync(context, response, CancellationToken.None));
        Assert.Equal(503, feature.RetryStatus);
        Assert.Null(feature.RetryAfter);
        Assert.False(context.Response.Headers.ContainsKey("x-upstream"));
        Assert.Equal(1, budget.Retries);
    }

    [Fact]
    public async Task RecordsAShortRetryAfter()
    {
        var (transformer, _) = Create();
        var (context, feature) = Context(mayRetry: true);
        using var response = Response(HttpStatusCode.TooManyRequests, "1");
        Assert.False(await transformer.TransformResponseAsync(context, response, CancellationToken.None));
        Assert.Equal((429, TimeSpan.FromSeconds(1)), (feature.RetryStatus, feature.RetryAfter));
    }

    [Theory]
    [InlineData(false, HttpStatusCode.ServiceUnavailable, null)] // last permitted attempt
    [InlineData(true, HttpStatusCode.BadGateway, null)] // not in this route's list
    [InlineData(true, HttpStatusCode.OK, null)]
    [InlineData(true, HttpStatusCode.ServiceUnavailable, "30")] // longer than maxRetryAfter
    public async Task PassesEverythingElseThroughTheInnerTransformer(bool mayRetry, HttpStatusCode status, string? retryAfter)
    {
        var (transformer, budget) = Create();
        var (context, feature) = Context(mayRetry);
        using var response = Response(status, retryAfter);
        Assert.True(await transformer.TransformResponseAsync(context, response, CancellationToken.None));
        Assert.Equal(0, feature.RetryStatus);
        Assert.Equal("1", context.Response.Headers["x-upstream"]);
        Assert.Equal(0, budget.Retries);
    }

    [Fact]
    public async Task PassesThroughWhenTheBudgetIsSpent()
    {
        var (transformer, _) = Create(budgetConfig: new RetryBudgetConfig { Ratio = 0, MinPerSecond = 0 });
        var (context, feature) = Context(mayRetry: true);
        using var response = Response(HttpStatusCode.ServiceUnavailable);
        Assert.True(await transformer.TransformResponseAsync(context, response, CancellationToken.None));
        Assert.Equal(0, feature.RetryStatus);
        Assert.Equal("1", context.Response.Headers["x-upstream"]);
    }

    [Fact]
    public async Task DisarmsThePerTryTimeoutOnceHeadersArrive()
    {
        var (transformer, _) = Create();
        var (context, feature) = Context(mayRetry: false);
        using var perTry = new CancellationTokenSource(TimeSpan.FromMilliseconds(50), _time);
        feature.PerTryTimeout = perTry;
        using var response = Response(HttpStatusCode.OK);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.True(await transformer.TransformResponseAsync(context, response, CancellationToken.None));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(perTry.IsCancellationRequested);

        // Without the transformer's help the same timer fires.
        using var armed = new CancellationTokenSource(TimeSpan.FromMilliseconds(50), _time);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(armed.IsCancellationRequested);
    }

    [Fact]
    public async Task ErrorsWithoutAResponseGoToTheInnerTransformer()
    {
        var (transformer, _) = Create();
        var (context, feature) = Context(mayRetry: true);
        Assert.True(await transformer.TransformResponseAsync(context, null, CancellationToken.None));
        Assert.Equal(0, feature.RetryStatus);
    }
}
