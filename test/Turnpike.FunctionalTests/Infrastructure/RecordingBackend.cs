using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>What one request looked like when it reached the upstream.</summary>
public sealed record ReceivedRequest(string Method, string Target, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body);

/// <summary>
/// A Kestrel backend that records every request it receives (method, target, headers, body) and answers by path:
/// <c>/chunked</c> streams a body without Content-Length, <c>/status/N</c> answers N, anything else 200 with
/// "got:" + the request body and the target in <c>x-target</c>.
/// </summary>
public static class RecordingBackend
{
    public static async Task<(TestBackend Backend, ConcurrentQueue<ReceivedRequest> Received)> StartAsync()
    {
        var received = new ConcurrentQueue<ReceivedRequest>();
        var backend = await TestBackend.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var headers = new List<KeyValuePair<string, string>>();
            foreach (var h in context.Request.Headers)
            {
                headers.Add(new(h.Key.ToLowerInvariant(), h.Value.ToString()));
            }

            var target = context.Request.Path.Value + context.Request.QueryString.Value;
            received.Enqueue(new ReceivedRequest(context.Request.Method, target, headers, body.ToArray()));
            var path = context.Request.Path.Value ?? "/";
            context.Response.Headers["x-target"] = target;
            if (path == "/chunked")
            {
                await context.Response.WriteAsync("part1-");
                await context.Response.Body.FlushAsync();
                await context.Response.WriteAsync(new string('z', 20_000));
                await context.Response.WriteAsync("-end");
                return;
            }

            if (path.StartsWith("/status/", StringComparison.Ordinal))
            {
                context.Response.StatusCode = int.Parse(path["/status/".Length..]);
                return;
            }

            var answer = "got:" + System.Text.Encoding.Latin1.GetString(body.ToArray());
            context.Response.ContentLength = answer.Length;
            await context.Response.WriteAsync(answer);
        });
        return (backend, received);
    }
}
