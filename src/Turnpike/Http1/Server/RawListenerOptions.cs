using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Turnpike.ConnectionLimits;
using Turnpike.Observability;

namespace Turnpike.Http1.Server;

/// <summary>Everything one raw listener needs, resolved once at start-up from the configuration and the app's services.</summary>
internal sealed record RawListenerOptions
{
    public required string Name { get; init; }

    /// <summary>The request delegate Kestrel listeners run (ProxyHandler, tracing wrapper…).</summary>
    public required RequestDelegate Application { get; init; }

    /// <summary>
    /// The same application as a <see cref="ValueTask"/> entry point (<c>ProxyHandler.Invoke</c>), called instead of
    /// <see cref="Application"/> when set: no <see cref="Task"/> per request that completes asynchronously. Null
    /// (a tracing wrapper in front, tests): <see cref="Application"/>.
    /// </summary>
    public Func<HttpContext, ValueTask>? ValueApplication { get; init; }

    /// <summary>The gateway's services (<c>HttpContext.RequestServices</c>).</summary>
    public required IServiceProvider Services { get; init; }

    public required ILogger Logger { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Head limits; <see cref="Http1Limits.MaxBodySize"/> is the declared Content-Length limit (413 at parse time).</summary>
    public Http1Limits Limits { get; init; } = Http1Limits.Default;

    /// <summary>Largest request body; null: none (server.limits.maxRequestBodySize 0).</summary>
    public long? MaxRequestBodySize { get; init; }

    /// <summary>Continuations inline on the socket threads (<c>server.inlineScheduling</c>).</summary>
    public bool InlineScheduling { get; init; } = true;

    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(75);

    /// <summary>Connection limits of this listener; null when none apply.</summary>
    public ListenerConnectionLimiter? ConnectionLimiter { get; init; }

    /// <summary>Wire byte counters; null when metrics are not exported.</summary>
    public ListenerByteCounters? Bytes { get; init; }

    /// <summary>Unread request body the connection reads and discards after a response to stay reusable; more closes it.</summary>
    public int MaxDrainBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// Feature types the application sets on every request and that no revision-keyed cache holds (the gateway's own
    /// request feature; HttpContext caches only ASP.NET Core's features): setting one leaves the collection's Revision
    /// alone, so the context keeps the features it fetched from one request to the next.
    /// </summary>
    public IReadOnlyList<Type> UnversionedFeatures { get; init; } = [];

    private nint[]? _unversionedHandles;

    /// <summary>The type handles of <see cref="UnversionedFeatures"/>.</summary>
    internal nint[] UnversionedHandles => _unversionedHandles ??= HandlesOf(UnversionedFeatures);

    private static nint[] HandlesOf(IReadOnlyList<Type> types)
    {
        var handles = new nint[types.Count];
        for (var i = 0; i < handles.Length; i++)
        {
            handles[i] = types[i].TypeHandle.Value;
        }

        return handles;
    }
}
