using System.Net;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>Upstream failures become clear answers: 502 for refused/reset, 504 for timeouts, each with a reason — never a hang.</summary>
public sealed class UpstreamFailureTests
{
    private static async Task AssertGatewayError(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(reason, response.Headers.GetValues("x-turnpike-error").Single());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"\"error\":\"{reason}\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RefusedConnectionIs502()
    {
        var (dead, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"dead: http://127.0.0.1:{dead}"));
        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        await AssertGatewayError(response, HttpStatusCode.BadGateway, "connection_refused");
    }

    [Fact]
    public async Task RefusedConnectionIsRetriedOnAnotherDestination()
    {
        await using var backend = await TestBackend.StartEchoAsync("alive");
        var (dead, hold) = Configs.RefusingPort();
        using var _ = hold;
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"dead: http://127.0.0.1:{dead}\nalive: {backend.Address}"));

        // Round robin starts on either destination; every request must end on the live one, POSTs included
        // (a refused connection provably never carried the request).
        for (var i = 0; i < 6; i++)
        {
            using var response = await gw.Client.PostAsync(gw.Combine("/x"), new StringContent("payload"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var echo = await Echo.ReadAsync(response);
            Assert.Equal("alive", echo.Backend);
            Assert.Equal(7, echo.BodyLength);
        }

        Assert.Equal(6, backend.Requests);
    }

    [Fact]
    public async Task SilentUpstreamIs504AfterActivityTimeout()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"d: {backend.Address}", "activityTimeout: 500ms"));
        using var response = await gw.Client.GetAsync(gw.Combine("/slow"));
        await AssertGatewayError(response, HttpStatusCode.GatewayTimeout, "upstream_timeout");
    }

    [Fact]
    public async Task RequestTimeoutIs504EvenWhenTheUpstreamTrickles()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            // Headers never come: the upstream keeps the connection busy but never answers within the request timeout.
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"d: {backend.Address}", "requestTimeout: 400ms\nactivityTimeout: 30s"));
        var started = DateTime.UtcNow;
        using var response = await gw.Client.GetAsync(gw.Combine("/slow"));
        await AssertGatewayError(response, HttpStatusCode.GatewayTimeout, "upstream_timeout");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task UpstreamResetBeforeAnsweringIs502()
    {
        await using var backend = await TestBackend.StartAsync(context =>
        {
            context.Abort();
            return Task.CompletedTask;
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"d: {backend.Address}"));
        using var response = await gw.Client.GetAsync(gw.Combine("/reset"));
        await AssertGatewayError(response, HttpStatusCode.BadGateway, "upstream_reset");
    }

    [Fact]
    public async Task NonIdempotentRequestThatReachedTheUpstreamIsNotRetried()
    {
        var hits = 0;
        await using var first = await TestBackend.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            context.Abort();
            return Task.CompletedTask;
        });
        await using var second = await TestBackend.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            context.Abort();
            return Task.CompletedTask;
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"a: {first.Address}\nb: {second.Address}"));
        using var response = await gw.Client.PostAsync(gw.Combine("/pay"), new StringContent("once"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, hits);
    }

    [Fact]
    public async Task UpstreamErrorStatusesPassThroughUnchanged()
    {
        await using var backend = await TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return context.Response.WriteAsync("backend says no");
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll($"d: {backend.Address}"));
        using var response = await gw.Client.GetAsync(gw.Combine("/x"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.False(response.Headers.Contains("x-turnpike-error"));
        Assert.Equal("backend says no", await response.Content.ReadAsStringAsync());
    }
}
