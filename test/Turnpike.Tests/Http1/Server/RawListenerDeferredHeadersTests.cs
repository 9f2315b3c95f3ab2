using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Turnpike.Http1;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>
/// Upstream header fields the raw listener's response takes as they are (<see cref="IDeferredResponseHeaders"/>): they
/// frame and fill the head, and whoever reads the headers afterwards sees them as if they had been set one by one.
/// Real sockets on 127.0.0.1; each request asks for <c>Connection: close</c>, so the whole answer is read to the end.
/// </summary>
public sealed class RawListenerDeferredHeadersTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task DeferredFieldsAreWrittenInOrderAndFrameTheBody()
    {
        await using var listener = Start(async context =>
        {
            var deferred = Assert.IsAssignableFrom<IDeferredResponseHeaders>(context.Features);
            Assert.True(deferred.BeginDeferred());
            // A field given with its line is written as that line (here spelled in lower case to tell them apart).
            deferred.Defer("Server", "upstream", "server: upstream\r\n"u8.ToArray());
            deferred.Defer("Date", "Tue, 01 Dec 2026 00:00:00 GMT", null);
            deferred.Defer("Content-Length", "5", null);
            await context.Response.Body.WriteAsync("hello"u8.ToArray());
        });

        var answer = await ExchangeAsync(listener);

        Assert.Equal(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nserver: upstream\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT\r\nContent-Length: 5\r\n\r\nhello",
            answer);
    }

    [Fact]
    public async Task ReadingTheHeadersPutsTheDeferredFieldsInTheDictionaryFirst()
    {
        string? seen = null;
        await using var listener = Start(context =>
        {
            var deferred = (IDeferredResponseHeaders)context.Features;
            Assert.True(deferred.BeginDeferred());
            // Once the fields are in the dictionary, the head comes from it: the line given is not used.
            deferred.Defer("Server", "upstream", "server: upstream\r\n"u8.ToArray());
            deferred.Defer("Content-Length", "0", null);
            seen = context.Response.Headers["Server"];
            context.Response.Headers["X-Added"] = "1";
            Assert.Equal(0, context.Response.ContentLength);
            return Task.CompletedTask;
        });

        var answer = await ExchangeAsync(listener);

        Assert.Equal("upstream", seen);
        Assert.Matches("^HTTP/1.1 200 OK\r\nConnection: close\r\nDate: [^\r]+\r\nServer: upstream\r\nContent-Length: 0\r\nX-Added: 1\r\n\r\n$", answer);
    }

    [Fact]
    public async Task TheFieldsStayVisibleAfterTheHeadWasWrittenFromThem()
    {
        var completed = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = Start(async context =>
        {
            context.Response.OnCompleted(() =>
            {
                completed.TrySetResult(context.Response.Headers["Server"]);
                return Task.CompletedTask;
            });
            var deferred = (IDeferredResponseHeaders)context.Features;
            Assert.True(deferred.BeginDeferred());
            deferred.Defer("Server", "upstream", null);
            deferred.Defer("Content-Length", "2", null);
            await context.Response.Body.WriteAsync("ok"u8.ToArray());
        });

        var answer = await ExchangeAsync(listener);

        Assert.EndsWith("Server: upstream\r\nContent-Length: 2\r\n\r\nok", answer);
        Assert.Equal("upstream", await completed.Task.WaitAsync(Wait));
    }

    [Fact]
    public async Task TouchedOrReplacedHeadersAreNotDeferred()
    {
        var outcomes = new List<bool>();
        await using var listener = Start(context =>
        {
            var deferred = (IDeferredResponseHeaders)context.Features;
            if (context.Request.Path == "/touched")
            {
                context.Response.Headers["X-Early"] = "1";
                outcomes.Add(deferred.BeginDeferred());
            }
            else if (context.Request.Path == "/replaced")
            {
                context.Features.Set<IHttpResponseFeature>(new HttpResponseFeature());
                outcomes.Add(deferred.BeginDeferred());
            }
            else
            {
                outcomes.Add(deferred.BeginDeferred());
                deferred.Defer("Server", "upstream", null);
                outcomes.Add(deferred.BeginDeferred()); // already taking fields
            }

            return Task.CompletedTask;
        });

        await ExchangeAsync(listener, "/touched");
        await ExchangeAsync(listener, "/replaced");
        var plain = await ExchangeAsync(listener, "/plain");

        Assert.Equal([false, false, true, false], outcomes);
        Assert.Contains("\r\nServer: upstream\r\n", plain);
    }

    [Fact]
    public async Task AnErrorAnswerAfterDeferralDropsTheFields()
    {
        await using var listener = Start(context =>
        {
            var deferred = (IDeferredResponseHeaders)context.Features;
            Assert.True(deferred.BeginDeferred());
            deferred.Defer("Server", "upstream", null);
            throw new InvalidOperationException("the app failed before the response started");
        });

        var answer = await ExchangeAsync(listener);

        Assert.StartsWith("HTTP/1.1 500 ", answer);
        Assert.DoesNotContain("upstream", answer);
    }

    private static RawListener Start(RequestDelegate application) => TestRawListener.Start("deferred", application);

    /// <summary>One request on a new connection; the whole answer, read until the listener closes.</summary>
    private static async Task<string> ExchangeAsync(RawListener listener, string path = "/a") =>
        Encoding.Latin1.GetString(await TestRawListener.ExchangeToCloseAsync(listener, path));
}
