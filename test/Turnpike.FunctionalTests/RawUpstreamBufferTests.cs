using System.Net;
using Microsoft.AspNetCore.Http;
using Turnpike.FunctionalTests.Infrastructure;
using Turnpike.Http1.Client;

namespace Turnpike.FunctionalTests;

/// <summary>
/// Memory of the raw upstream engine under concurrency: on the epoll engine a connection waiting for its upstream's
/// answer holds no buffer (it waits for readability with an empty one and rents its read buffer only to read the
/// answer), so a thousand slow upstream requests cost no 4 KiB each.
/// </summary>
public sealed class RawUpstreamBufferTests
{
    [Fact]
    public async Task ConnectionsWaitingForTheirAnswerHoldNoBuffersOnTheEpollEngine()
    {
        const int Requests = 20;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            Interlocked.Increment(ref arrived);
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await context.Response.WriteAsync("answer-" + context.Request.Path.Value!.TrimStart('/'));
        });
        await using var gw = await GatewayHost.StartAsync(Configs.CatchAll(backend.Address, "engine: raw"));
        var pool = gw.Server.Snapshot.Clusters["c"].RawPool ?? throw new InvalidOperationException("cluster is not on the raw engine");

        var pending = new Task<HttpResponseMessage>[Requests];
        for (var i = 0; i < Requests; i++)
        {
            pending[i] = gw.Client.GetAsync(gw.Combine("/" + i));
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Volatile.Read(ref arrived) < Requests && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(Requests, Volatile.Read(ref arrived));
        Assert.Equal(Requests, pool.OpenConnections);
        var heldWhileWaiting = pool.BufferBytes;
        if (Turnpike.Sockets.SocketEngine.UseEpoll)
        {
            Assert.Equal(0, heldWhileWaiting);
        }
        else
        {
            // The .NET socket engine parks a read buffer in each pending receive.
            Assert.True(heldWhileWaiting >= Requests * (long)Http1UpstreamConnection.InitialReadBufferSize, $"{heldWhileWaiting} B");
        }

        release.SetResult();
        for (var i = 0; i < Requests; i++)
        {
            using var response = await pending[i];
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("answer-" + i, await response.Content.ReadAsStringAsync());
        }

        if (Turnpike.Sockets.SocketEngine.UseEpoll)
        {
            Assert.Equal(0, pool.BufferBytes); // read whole: each read buffer went back with its answer
        }
    }
}
