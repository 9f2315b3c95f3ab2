using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Turnpike.Connections;

/// <summary>The addresses to try for one connection, in order from <see cref="Start"/> (wrapping around).</summary>
internal readonly record struct ResolvedAddresses(IPAddress[] Addresses, int Start);

/// <summary>
/// Caches the addresses of upstream host names for one cluster, so a new upstream connection does not wait for DNS
/// and a DNS change is picked up within <c>dnsRefresh</c> without a restart.
/// </summary>
/// <remarks>
/// <para>An answer is used for the refresh interval. The first connection that needs the host after that starts one
/// lookup and waits for it; connections arriving while it runs use the previous answer instead of waiting. Callers
/// that find no answer at all share the one lookup.</para>
/// <para>When a lookup fails, the last good answer keeps being used for up to <see cref="MaxStale"/> past its
/// expiry, with a new lookup tried at most every few seconds; after that, or without a previous answer, the lookup's
/// error (normally a <see cref="SocketException"/> with <see cref="SocketError.HostNotFound"/> or
/// <see cref="SocketError.TryAgain"/>) is thrown, which the forwarder reports as <c>connection_refused</c>.</para>
/// <para>Each call takes the next address of the answer as its starting point, so connections rotate over all of a
/// host's addresses.</para>
/// </remarks>
internal sealed partial class DnsCache
{
    /// <summary>How long past its expiry a last good answer is still used while lookups fail.</summary>
    internal static readonly TimeSpan DefaultMaxStale = TimeSpan.FromMinutes(5);

    /// <summary>A lookup that takes longer counts as failed.</summary>
    internal static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(30);

    /// <summary>After a failed lookup, the next is tried no sooner than this (or the refresh interval, if shorter).</summary>
    internal static readonly TimeSpan FailureRetryDelay = TimeSpan.FromSeconds(5);

    private readonly IHostResolver _resolver;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryDelay;
    private readonly ConcurrentDictionary<string, HostState> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public DnsCache(IHostResolver resolver, TimeSpan refresh, TimeProvider time, ILogger logger, TimeSpan? maxStale = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(refresh, TimeSpan.Zero);
        _resolver = resolver;
        Refresh = refresh;
        MaxStale = maxStale ?? DefaultMaxStale;
        _time = time;
        _logger = logger;
        _retryDelay = refresh < FailureRetryDelay ? refresh : FailureRetryDelay;
    }

    public TimeSpan Refresh { get; }

    public TimeSpan MaxStale { get; }

    /// <summary>The addresses of <paramref name="host"/> (a name, not an IP literal), from the cache when it is fresh.</summary>
    public ValueTask<ResolvedAddresses> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var state = _hosts.GetOrAdd(host, static h => new HostState(h));
        var answer = Volatile.Read(ref state.Answer);
        if (answer is not null && _time.GetElapsedTime(answer.ResolvedAt) < answer.UseFor)
        {
            return new ValueTask<ResolvedAddresses>(state.Pick(answer));
        }

        return ResolveSlowAsync(state, answer, cancellationToken);
    }

    private async ValueTask<ResolvedAddresses> ResolveSlowAsync(HostState state, Answer? previous, CancellationToken cancellationToken)
    {
        var lookup = StartOrJoinLookup(state, out var started);
        if (!started && previous is not null && IsUsable(previous))
        {
            // Someone else is already refreshing this host: connect with what we have rather than wait.
            return state.Pick(previous);
        }

        var answer = await lookup.WaitAsync(cancellationToken).ConfigureAwait(false);
        return state.Pick(answer);
    }

    private bool IsUsable(Answer answer) => _time.GetElapsedTime(answer.ResolvedAt) < Refresh + MaxStale;

    private Task<Answer> StartOrJoinLookup(HostState state, out bool started)
    {
        while (true)
        {
            var pending = Volatile.Read(ref state.Pending);
            if (pending is not null)
            {
                started = false;
                return pending;
            }

            var completion = new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.CompareExchange(ref state.Pending, completion.Task, null) is null)
            {
                started = true;
                _ = RunLookupAsync(state, completion);
                return completion.Task;
            }
        }
    }

    private async Task RunLookupAsync(HostState state, TaskCompletionSource<Answer> completion)
    {
        Answer? answer = null;
        Exception? error = null;
        try
        {
            answer = await LookupAsync(state).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            error = ex;
        }

        Finish(state, completion, answer, error);
    }

    /// <summary>The answer to use from now on, or the error to report when there is no usable one.</summary>
    private async Task<Answer> LookupAsync(HostState state)
    {
        var previous = Volatile.Read(ref state.Answer);
        if (previous is not null && _time.GetElapsedTime(previous.ResolvedAt) < previous.UseFor)
        {
            // A lookup finished between the caller's check and this one.
            return previous;
        }

        IPAddress[]? addresses = null;
        Exception? error = null;
        using (var timeout = new CancellationTokenSource(LookupTimeout, _time))
        {
            try
            {
                addresses = await _resolver.ResolveAsync(state.Host, timeout.Token).ConfigureAwait(false);
                if (addresses is null || addresses.Length == 0)
                {
                    addresses = null;
                    error = new SocketException((int)SocketError.HostNotFound);
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                error = new SocketException((int)SocketError.TryAgain);
            }
            catch (Exception ex)
            {
                error = ex;
            }
        }

        if (addresses is not null)
        {
            if (previous is not null && _logger.IsEnabled(LogLevel.Information) && !SameAddresses(previous.Addresses, addresses))
            {
                LogAddressesChanged(_logger, state.Host, string.Join(", ", (object[])addresses), string.Join(", ", (object[])previous.Addresses));
            }

            return new Answer(addresses, _time.GetTimestamp(), Refresh);
        }

        if (previous is not null && IsUsable(previous))
        {
            // Keep the last good addresses; try again after a short delay rather than on every new connection.
            var age = _time.GetElapsedTime(previous.ResolvedAt);
            var retryAt = age + _retryDelay;
            var limit = Refresh + MaxStale;
            LogLookupFailedUsingStale(_logger, state.Host, error!.Message, age.TotalSeconds, (limit - age).TotalSeconds);
            return previous with { UseFor = retryAt < limit ? retryAt : limit };
        }

        LogLookupFailed(_logger, state.Host, error!.Message);
        throw error;
    }

    private static void Finish(HostState state, TaskCompletionSource<Answer> completion, Answer? answer, Exception? error)
    {
        // The answer is published before the lookup is cleared, so a caller that sees no lookup sees the new answer.
        // A failure leaves no answer: it is only reported when the previous one was no longer usable.
        Volatile.Write(ref state.Answer, answer);

        Volatile.Write(ref state.Pending, null);
        if (answer is not null)
        {
            completion.SetResult(answer);
        }
        else
        {
            completion.SetException(error!);
            // Callers that gave up waiting (connect timeout) no longer observe it; that is not an unhandled error.
            _ = completion.Task.Exception;
        }
    }

    private static bool SameAddresses(IPAddress[] a, IPAddress[] b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        foreach (var address in a)
        {
            if (Array.IndexOf(b, address) < 0)
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS: {Host} now resolves to {Addresses} (was {Previous}); new upstream connections use the new addresses")]
    private static partial void LogAddressesChanged(ILogger logger, string host, string addresses, string previous);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS lookup for {Host} failed ({Error}); using the addresses resolved {AgeSeconds:F0}s ago for up to {RemainingSeconds:F0}s more")]
    private static partial void LogLookupFailedUsingStale(ILogger logger, string host, string error, double ageSeconds, double remainingSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS lookup for {Host} failed ({Error}) and no earlier answer is usable; connections to it fail")]
    private static partial void LogLookupFailed(ILogger logger, string host, string error);

    /// <summary>One successful lookup: used while less than <see cref="UseFor"/> has passed since <see cref="ResolvedAt"/>.</summary>
    private sealed record Answer(IPAddress[] Addresses, long ResolvedAt, TimeSpan UseFor);

    private sealed class HostState(string host)
    {
        public readonly string Host = host;
        public Answer? Answer;
        public Task<Answer>? Pending;
        private int _rotation = -1;

        public ResolvedAddresses Pick(Answer answer)
        {
            var next = (uint)Interlocked.Increment(ref _rotation);
            return new ResolvedAddresses(answer.Addresses, (int)(next % (uint)answer.Addresses.Length));
        }
    }
}
