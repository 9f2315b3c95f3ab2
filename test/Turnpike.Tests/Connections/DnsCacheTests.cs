using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Connections;

namespace Turnpike.Tests.Connections;

public sealed class DnsCacheTests
{
    private static readonly IPAddress A = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");
    private static readonly IPAddress C = IPAddress.Parse("10.0.0.3");
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(30);

    private readonly ScriptedResolver _resolver = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ListLogger _logger = new();

    private DnsCache CreateCache(TimeSpan? maxStale = null) => new(_resolver, Refresh, _time, _logger, maxStale);

    private static async Task<IPAddress> FirstAsync(DnsCache cache, string host = "api.internal")
    {
        var (addresses, start) = await cache.ResolveAsync(host, CancellationToken.None);
        return addresses[start];
    }

    [Fact]
    public async Task AnswersFromTheCacheUntilTheRefreshInterval()
    {
        _resolver.Set("api.internal", A);
        var cache = CreateCache();

        Assert.Equal(A, await FirstAsync(cache));
        _time.Advance(Refresh - TimeSpan.FromMilliseconds(1));
        var hit = cache.ResolveAsync("API.internal", CancellationToken.None);

        Assert.True(hit.IsCompletedSuccessfully, "a fresh entry answers synchronously");
        Assert.Equal(A, (await hit).Addresses.Single());
        Assert.Equal(1, _resolver.Lookups);
    }

    [Fact]
    public async Task LooksUpAgainAfterExpiryAndUsesTheChangedAnswer()
    {
        _resolver.Set("api.internal", A);
        var cache = CreateCache();
        Assert.Equal(A, await FirstAsync(cache));

        _resolver.Set("api.internal", B);
        _time.Advance(Refresh);

        Assert.Equal(B, await FirstAsync(cache));
        Assert.Equal(2, _resolver.Lookups);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("10.0.0.2", StringComparison.Ordinal) && e.Message.Contains("was 10.0.0.1", StringComparison.Ordinal));

        // And the new answer is cached in turn.
        Assert.Equal(B, await FirstAsync(cache));
        Assert.Equal(2, _resolver.Lookups);
    }

    [Fact]
    public async Task FailedRefreshKeepsTheLastGoodAddressesForABoundedTime()
    {
        _resolver.Set("api.internal", A);
        var cache = CreateCache(maxStale: TimeSpan.FromMinutes(2));
        Assert.Equal(A, await FirstAsync(cache));

        _resolver.Fail("api.internal", new SocketException((int)SocketError.TryAgain));
        _time.Advance(Refresh);
        Assert.Equal(A, await FirstAsync(cache));
        Assert.Equal(2, _resolver.Lookups);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("api.internal", StringComparison.Ordinal) && e.Message.Contains("using the addresses", StringComparison.Ordinal));

        // No lookup on every connection while DNS is down: the next one comes after the retry delay.
        Assert.Equal(A, await FirstAsync(cache));
        Assert.Equal(2, _resolver.Lookups);
        _time.Advance(DnsCache.FailureRetryDelay);
        Assert.Equal(A, await FirstAsync(cache));
        Assert.Equal(3, _resolver.Lookups);

        // Past refresh + maxStale the old answer is no longer used: the lookup's error is.
        _time.Advance(TimeSpan.FromMinutes(2));
        var error = await Assert.ThrowsAsync<SocketException>(() => FirstAsync(cache));
        Assert.Equal(SocketError.TryAgain, error.SocketErrorCode);
        Assert.Contains(_logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("no earlier answer is usable", StringComparison.Ordinal));

        // DNS comes back: the next connection gets the new answer.
        _resolver.Set("api.internal", C);
        Assert.Equal(C, await FirstAsync(cache));
    }

    [Fact]
    public async Task RecoveryAfterAFailedRefreshUsesTheNewAnswer()
    {
        _resolver.Set("api.internal", A);
        var cache = CreateCache();
        await FirstAsync(cache);
        _resolver.Fail("api.internal", new SocketException((int)SocketError.TryAgain));
        _time.Advance(Refresh);
        Assert.Equal(A, await FirstAsync(cache));

        _resolver.Set("api.internal", B);
        _time.Advance(DnsCache.FailureRetryDelay);
        Assert.Equal(B, await FirstAsync(cache));
    }

    [Fact]
    public async Task UnknownHostFailsWithTheResolversError()
    {
        var cache = CreateCache();
        var error = await Assert.ThrowsAsync<SocketException>(() => FirstAsync(cache, "nowhere.internal"));
        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
    }

    [Fact]
    public async Task EmptyAnswerIsHostNotFound()
    {
        _resolver.Set("empty.internal");
        var cache = CreateCache();
        var error = await Assert.ThrowsAsync<SocketException>(() => FirstAsync(cache, "empty.internal"));
        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
    }

    [Fact]
    public async Task ConcurrentCallersShareOneLookup()
    {
        _resolver.Set("api.internal", A);
        _resolver.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cache = CreateCache();

        var callers = Enumerable.Range(0, 8).Select(_ => cache.ResolveAsync("api.internal", CancellationToken.None).AsTask()).ToArray();
        Assert.All(callers, c => Assert.False(c.IsCompleted));
        _resolver.Gate.SetResult();
        var results = await Task.WhenAll(callers);

        Assert.All(results, r => Assert.Equal(A, r.Addresses.Single()));
        Assert.Equal(1, _resolver.Lookups);
    }

    [Fact]
    public async Task ConnectsDuringARefreshUseTheStaleEntryWithoutWaiting()
    {
        _resolver.Set("api.internal", A);
        var cache = CreateCache();
        await FirstAsync(cache);

        _resolver.Set("api.internal", B);
        _resolver.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _time.Advance(Refresh);
        var first = cache.ResolveAsync("api.internal", CancellationToken.None).AsTask(); // starts the refresh and waits for it
        var concurrent = cache.ResolveAsync("api.internal", CancellationToken.None);

        Assert.True(concurrent.IsCompletedSuccessfully, "a stale entry is served while its refresh runs");
        Assert.Equal(A, (await concurrent).Addresses.Single());
        Assert.False(first.IsCompleted);

        _resolver.Gate.SetResult();
        Assert.Equal(B, (await first).Addresses.Single());
        Assert.Equal(2, _resolver.Lookups);
    }

    [Fact]
    public async Task CallerCancellationDoesNotCancelTheSharedLookup()
    {
        _resolver.Set("api.internal", A);
        _resolver.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cache = CreateCache();

        using var cts = new CancellationTokenSource();
        var impatient = cache.ResolveAsync("api.internal", cts.Token).AsTask();
        var patient = cache.ResolveAsync("api.internal", CancellationToken.None).AsTask();
        await cts.CancelAsync();
        var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => impatient);
        Assert.Equal(cts.Token, canceled.CancellationToken);

        _resolver.Gate.SetResult();
        Assert.Equal(A, (await patient).Addresses.Single());
        Assert.Equal(1, _resolver.Lookups);
    }

    [Fact]
    public async Task LookupThatNeverAnswersTimesOutAsTryAgain()
    {
        _resolver.Set("api.internal", A);
        _resolver.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // never released
        var cache = CreateCache();

        var pending = cache.ResolveAsync("api.internal", CancellationToken.None).AsTask();
        Assert.False(pending.IsCompleted);
        _time.Advance(DnsCache.LookupTimeout);

        var error = await Assert.ThrowsAsync<SocketException>(() => pending);
        Assert.Equal(SocketError.TryAgain, error.SocketErrorCode);
    }

    [Fact]
    public async Task RotatesOverTheAnswersAddresses()
    {
        _resolver.Set("api.internal", A, B, C);
        var cache = CreateCache();
        var firsts = new List<IPAddress>();
        for (var i = 0; i < 6; i++)
        {
            firsts.Add(await FirstAsync(cache));
        }

        Assert.Equal([A, B, C, A, B, C], firsts);
        Assert.Equal(1, _resolver.Lookups);
    }

    [Fact]
    public async Task HostsAreCachedSeparately()
    {
        _resolver.Set("a.internal", A);
        _resolver.Set("b.internal", B);
        var cache = CreateCache();
        Assert.Equal(A, await FirstAsync(cache, "a.internal"));
        Assert.Equal(B, await FirstAsync(cache, "b.internal"));
        Assert.Equal(A, await FirstAsync(cache, "a.internal"));
        Assert.Equal(2, _resolver.Lookups);
    }
}
