using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>The raw listener's per-thread pool of header dictionaries, and that nothing carries over through it.</summary>
public sealed class HeaderDictionaryPoolTests
{
    [Fact]
    public void TheLastReturnedIsRentedFirstAndComesBackEmpty()
    {
        var first = HeaderDictionaryPool.Rent();
        var second = HeaderDictionaryPool.Rent();
        first["X-A"] = "1";
        second["X-B"] = "2";
        var before = HeaderDictionaryPool.CountOnThisThread;

        HeaderDictionaryPool.Return(first);
        HeaderDictionaryPool.Return(second);

        Assert.Equal(before + 2, HeaderDictionaryPool.CountOnThisThread);
        var again = HeaderDictionaryPool.Rent();
        Assert.Same(second, again);
        Assert.Empty(again);
        Assert.Same(first, HeaderDictionaryPool.Rent());
        Assert.Empty(first);
    }

    [Fact]
    public void AThreadKeepsAtMostCapacity()
    {
        var rented = new List<HeaderDictionary>();
        for (var i = 0; i < HeaderDictionaryPool.Capacity + 5; i++)
        {
            rented.Add(HeaderDictionaryPool.Rent());
        }

        foreach (var dictionary in rented)
        {
            HeaderDictionaryPool.Return(dictionary);
        }

        Assert.Equal(HeaderDictionaryPool.Capacity, HeaderDictionaryPool.CountOnThisThread);
    }

    [Fact]
    public async Task NoHeaderCarriesOverToTheNextRequestOrConnection()
    {
        // Each answer says what the app saw on entry: the request's X-A, and how many response headers were already set.
        await using var listener = RawListener.Start(new IPEndPoint(IPAddress.Loopback, 0), new RawListenerOptions
        {
            Name = "headers",
            Application = static context =>
            {
                var seen = $"{context.Request.Headers["X-A"]}|{context.Response.Headers.Count}";
                context.Response.Headers["X-Set"] = "by-the-app";
                context.Response.Headers.ContentLength = seen.Length;
                return context.Response.WriteAsync(seen);
            },
            Services = new ServiceCollection().BuildServiceProvider(),
            Logger = NullLogger.Instance,
        });

        for (var connection = 0; connection < 2; connection++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await client.ConnectAsync(listener.LocalEndPoint);
            // Two pipelined requests, the first with X-A, then one more on its own.
            var answers = await ExchangeAsync(client, "GET /1 HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", 2);
            answers += await ExchangeAsync(client, "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n", 1);

            Assert.Equal(["one|0", "|0", "|0"], Bodies(answers));
        }
    }

    private static async Task<string> ExchangeAsync(Socket client, string requests, int answers)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes(requests));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Bodies(received.ToString()).Count < answers)
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "the server closed the connection");
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return received.ToString();
    }

    /// <summary>The bodies of the complete responses in <paramref name="text"/> (each with a Content-Length).</summary>
    private static List<string> Bodies(string text)
    {
        var bodies = new List<string>();
        var at = 0;
        while (true)
        {
            var end = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal);
            if (end < 0)
            {
                return bodies;
            }

            var head = text[at..end];
            var lengthAt = head.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase);
            var length = int.Parse(head[(lengthAt + 16)..].Split("\r\n")[0]);
            if (end + 4 + length > text.Length)
            {
                return bodies;
            }

            bodies.Add(text.Substring(end + 4, length));
            at = end + 4 + length;
        }
    }
}

/// <summary>
/// Dictionaries returned beyond a thread's capacity wait in the shared pool for a thread whose stack is empty (requests
/// that start on one thread and end on another). In the collection that runs alone: the pool is process-wide.
/// </summary>
[Collection(AllocationCollection.Name)]
public sealed class HeaderDictionarySharedPoolTests
{
    [Fact]
    public async Task WhatAFullStackCannotKeepGoesToAThreadWithAnEmptyOne()
    {
        // A thread of its own returns more than it may keep (its stack starts empty: no earlier test ran on it).
        var overflow = await OnNewThread(() =>
        {
            var rented = new List<HeaderDictionary>();
            for (var i = 0; i < HeaderDictionaryPool.Capacity + 3; i++)
            {
                rented.Add(HeaderDictionaryPool.Rent());
            }

            rented.ForEach(d => d["X-Left"] = "over");
            rented.ForEach(HeaderDictionaryPool.Return);
            return rented.Skip(HeaderDictionaryPool.Capacity).ToList();
        });

        // Another new thread, with nothing of its own, rents the three (emptied), then allocates.
        var taken = await OnNewThread(() => Enumerable.Range(0, 3).Select(_ => HeaderDictionaryPool.Rent()).ToList());

        Assert.Equal(overflow.ToHashSet(ReferenceEqualityComparer.Instance), taken.ToHashSet(ReferenceEqualityComparer.Instance));
        Assert.All(taken, d => Assert.Empty(d));
    }

    private static Task<T> OnNewThread<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        }).Start();
        return done.Task;
    }
}
