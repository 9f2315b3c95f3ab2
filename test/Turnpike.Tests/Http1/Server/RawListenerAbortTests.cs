using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turnpike.Http1;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>
/// A request aborted by its client (the connection closed while the app runs): what the app sees, what is logged, and
/// the abort link the upstream client uses instead of a registration on RequestAborted. Real sockets on 127.0.0.1.
/// </summary>
public sealed class RawListenerAbortTests
{
    private static readonly byte[] Request = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AnAppGivingUpOnAnAbortedRequestIsLoggedAsAnAbortNotAsAnError()
    {
        var logger = new TestLogger();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = Start(logger, async context =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted); // throws when the client goes away
        });

        await SendAndCloseAsync(listener, started.Task);

        Assert.True(await EventuallyAsync(() => logger.Entries.Any(e => e.EventId == 126)), "the abort was not logged");
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task AnAbortCancelsTheLinkedSourceAndTakesTheLink()
    {
        using var linked = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var unlinked = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = Start(new TestLogger(), async context =>
        {
            var link = Assert.IsAssignableFrom<IRequestAbortLink>(context.Features);
            link.Link(linked);
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, linked.Token);
            }
            catch (OperationCanceledException)
            {
            }

            unlinked.TrySetResult(link.Unlink());
        });

        await SendAndCloseAsync(listener, started.Task);

        Assert.False(await unlinked.Task.WaitAsync(Wait), "Unlink said the link was still there after the abort took it");
        Assert.True(linked.IsCancellationRequested);
    }

    [Fact]
    public async Task ALinkEndedBeforeTheAbortIsLeftAlone()
    {
        using var linked = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var unlinked = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = Start(new TestLogger(), async context =>
        {
            var link = (IRequestAbortLink)context.Features;
            link.Link(linked);
            unlinked.TrySetResult(link.Unlink());
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        });

        await SendAndCloseAsync(listener, started.Task);

        Assert.True(await unlinked.Task.WaitAsync(Wait), "Unlink without an abort said an abort took the link");
        Assert.True(await EventuallyAsync(() => listener.ConnectionCount == 0), "the connection did not end");
        Assert.False(linked.IsCancellationRequested, "an abort after Unlink cancelled the source");
    }

    [Fact]
    public async Task ALinkMadeAfterTheAbortCancelsAtOnce()
    {
        using var linked = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = new TaskCompletionSource<(bool Cancelled, bool Unlinked)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = Start(new TestLogger(), async context =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }

            var link = (IRequestAbortLink)context.Features;
            link.Link(linked);
            outcome.TrySetResult((linked.IsCancellationRequested, link.Unlink()));
        });

        await SendAndCloseAsync(listener, started.Task);

        var (cancelled, unlinked) = await outcome.Task.WaitAsync(Wait);
        Assert.True(cancelled, "linking an aborted request did not cancel the source");
        Assert.False(unlinked);
    }

    private static RawListener Start(TestLogger logger, RequestDelegate application) =>
        RawListener.Start(new IPEndPoint(IPAddress.Loopback, 0), new RawListenerOptions
        {
            Name = "aborts",
            Application = application,
            Services = new ServiceCollection().BuildServiceProvider(),
            Logger = logger,
        });

    /// <summary>Sends one request, waits until the app runs it, then closes the connection.</summary>
    private static async Task SendAndCloseAsync(RawListener listener, Task appStarted)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndPoint);
        await client.SendAsync(Request);
        await appStarted.WaitAsync(Wait);
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (int i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        return condition();
    }
}
