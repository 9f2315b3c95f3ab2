using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;

namespace Turnpike.Retries;

/// <summary>Why an attempt might be repeated.</summary>
internal enum RetryTrigger
{
    /// <summary>The connection was refused or timed out: the request never left the gateway, its body was not read.</summary>
    ConnectFailure,
    /// <summary>HTTP/2 REFUSED_STREAM: the upstream did not process the request, but part of its body may have been read.</summary>
    Refused,
    /// <summary>The upstream answered with a status the route retries on.</summary>
    Status,
    /// <summary>The attempt's per-try timeout or the cluster's activity timeout expired before the response started.</summary>
    Timeout,
    /// <summary>The upstream closed or reset the connection before the response started.</summary>
    Reset,
}

/// <summary>What can be done with a request's body for another attempt.</summary>
internal enum BodyReplay
{
    /// <summary>There is no body: nothing to send again.</summary>
    NoBody,
    /// <summary>The body is small enough: it is buffered while sent and rewound for the next attempt.</summary>
    Buffered,
    /// <summary>Streamed (chunked, HTTP/2 without Content-Length, or larger than the replay limit): it can be sent once.</summary>
    NotReplayable,
}

/// <summary>
/// One route's retry rules, compiled from its <c>retry</c> block at config load (or the never-sent failover when it
/// has none). Pure decisions, no state: the handler asks per attempt whether to go again.
/// </summary>
internal sealed class RetryPolicy
{
    private readonly ulong[] _statuses = new ulong[4]; // bit (status - 400) for 400..599

    private RetryPolicy(RouteRetryConfig? config, int destinationCount, Random? random)
    {
        Config = config;
        // Never-sent failover needs somewhere else to go; a single destination would just refuse again.
        NeverSentFailover = destinationCount > 1;
        if (config is null)
        {
            MaxAttempts = Math.Min(2, destinationCount);
            Backoff = new Backoff(TimeSpan.Zero, TimeSpan.Zero, random);
            return;
        }

        MaxAttempts = config.Attempts;
        foreach (var status in config.Statuses)
        {
            if (status is >= 400 and <= 599)
            {
                _statuses[(status - 400) >> 6] |= 1UL << ((status - 400) & 63);
                RetriesStatuses = true;
            }
        }

        OnTimeout = config.OnTimeout;
        OnReset = config.OnReset;
        PerTryTimeout = config.PerTryTimeout;
        MaxRetryAfter = config.MaxRetryAfter;
        MaxReplayBodySize = config.MaxReplayBodySize;
        NonIdempotent = config.NonIdempotent;
        Backoff = new Backoff(config.Backoff.Base, config.Backoff.Max, random);
    }

    /// <summary>The route's <c>retry</c> block; null for the never-sent-only default.</summary>
    public RouteRetryConfig? Config { get; }

    /// <summary>True when the route has a <c>retry</c> block (retries beyond the never-sent failover).</summary>
    public bool Configured => Config is not null;

    /// <summary>Attempts in all, the first included.</summary>
    public int MaxAttempts { get; }

    public bool NeverSentFailover { get; }

    public bool RetriesStatuses { get; }

    public bool OnTimeout { get; }

    public bool OnReset { get; }

    /// <summary>Time one attempt has to deliver response headers; zero when off.</summary>
    public TimeSpan PerTryTimeout { get; }

    public TimeSpan MaxRetryAfter { get; }

    public long MaxReplayBodySize { get; }

    public bool NonIdempotent { get; }

    public Backoff Backoff { get; }

    /// <summary>The rules for a route: <paramref name="config"/> null means "never-sent failover only" (at most two attempts).</summary>
    public static RetryPolicy Create(RouteRetryConfig? config, int destinationCount, Random? random = null) => new(config, destinationCount, random);

    public bool IsRetryableStatus(int status) =>
        (uint)(status - 400) < 200 && (_statuses[(status - 400) >> 6] & (1UL << ((status - 400) & 63))) != 0;

    /// <summary>GET, HEAD, OPTIONS, PUT, DELETE, TRACE (RFC 9110 §9.2.2), or any method when the route opts in.</summary>
    public bool AllowsMethod(string method) =>
        NonIdempotent || HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
        || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method);

    /// <summary>
    /// Decides, before the first attempt, what happens to the body: none, buffered for replay (only when a later
    /// attempt could need it: a configured route and a method it retries), or streamed once.
    /// </summary>
    /// <param name="contentLength">The request's Content-Length, if any.</param>
    /// <param name="mayHaveBody">False when the server knows there is no body (no Content-Length, not chunked on HTTP/1.1; END_STREAM on HTTP/2).</param>
    public BodyReplay PlanBody(string method, long? contentLength, bool mayHaveBody)
    {
        if (!mayHaveBody || contentLength == 0)
        {
            return BodyReplay.NoBody;
        }

        return Configured && contentLength <= MaxReplayBodySize && AllowsMethod(method) ? BodyReplay.Buffered : BodyReplay.NotReplayable;
    }

    /// <summary>Whether attempt number <paramref name="attempt"/> (1-based) may be followed by another.</summary>
    /// <param name="status">The upstream's status, for <see cref="RetryTrigger.Status"/>.</param>
    public bool ShouldRetry(RetryTrigger trigger, int attempt, string method, BodyReplay body, int status = 0)
    {
        if (attempt >= MaxAttempts)
        {
            return false;
        }

        switch (trigger)
        {
            case RetryTrigger.ConnectFailure:
                return NeverSentFailover;
            case RetryTrigger.Refused:
                // Not processed upstream, but the body may be half read: only safe when it can be sent again.
                return NeverSentFailover && body != BodyReplay.NotReplayable;
        }

        if (!MayRetryReached(attempt, method, body))
        {
            return false;
        }

        return trigger switch
        {
            RetryTrigger.Status => IsRetryableStatus(status),
            RetryTrigger.Timeout => OnTimeout,
            RetryTrigger.Reset => OnReset,
            _ => false,
        };
    }

    /// <summary>
    /// Whether attempt <paramref name="attempt"/>, which may reach the upstream, can be followed by another: a configured
    /// route, attempts left, a method the route retries and a body that can be sent again.
    /// </summary>
    public bool MayRetryReached(int attempt, string method, BodyReplay body) =>
        Configured && attempt < MaxAttempts && body != BodyReplay.NotReplayable && AllowsMethod(method);

    /// <summary>
    /// For 429 and 503: honours a <c>Retry-After</c> of at most <see cref="MaxRetryAfter"/> (returned in
    /// <paramref name="delay"/>); a longer one means "do not retry, pass the answer on". Other statuses, a missing or
    /// unreadable header: true with no delay (the backoff applies).
    /// </summary>
    public bool AcceptsRetryAfter(int status, ReadOnlySpan<char> retryAfter, DateTimeOffset now, out TimeSpan? delay)
    {
        delay = null;
        if (status is not (429 or 503) || !RetryAfter.TryParse(retryAfter, now, out var wait))
        {
            return true;
        }

        if (wait > MaxRetryAfter)
        {
            return false;
        }

        delay = wait;
        return true;
    }
}
