using Turnpike.Configuration;

namespace Turnpike.Health;

/// <summary>
/// Probes every destination of one cluster on a <see cref="PeriodicTimer"/> driven by the injected
/// <see cref="TimeProvider"/>, off the request path: all destinations in parallel, each probe bounded by the
/// configured timeout. The first round runs at start. Results go to <see cref="ClusterHealth.OnProbe"/>.
/// </summary>
internal sealed class ActiveHealthChecker : IDisposable
{
    private readonly ClusterHealth _cluster;
    private readonly ActiveHealthCheckConfig _options;
    private readonly IHealthProbe _probe;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public ActiveHealthChecker(ClusterHealth cluster, ActiveHealthCheckConfig options, IHealthProbe probe)
    {
        _cluster = cluster;
        _options = options;
        _probe = probe;
    }

    /// <summary>Completes when the loop has stopped (after <see cref="Dispose"/>).</summary>
    public Task Completion => _loop ?? Task.CompletedTask;

    public void Start() => _loop ??= Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var token = _stop.Token;
        using var timer = new PeriodicTimer(_options.Interval, _cluster.Time);
        try
        {
            do
            {
                await ProbeAllAsync(token).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round: every destination probed once, concurrently.</summary>
    internal async Task ProbeAllAsync(CancellationToken token)
    {
        var members = _cluster.Members;
        var rounds = new Task[members.Length];
        for (var i = 0; i < members.Length; i++)
        {
            rounds[i] = ProbeOneAsync(members[i], token);
        }

        await Task.WhenAll(rounds).ConfigureAwait(false);
    }

    private async Task ProbeOneAsync(DestinationHealth member, CancellationToken token)
    {
        bool passed;
        using (var timeout = new CancellationTokenSource(_options.Timeout, _cluster.Time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(token, timeout.Token))
        {
            try
            {
                passed = await _probe.ProbeAsync(member.Destination, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                passed = false;
            }
        }

        token.ThrowIfCancellationRequested();
        _cluster.OnProbe(member, passed, _options);
    }

    public void Dispose()
    {
        // Not disposed: the loop may still be reading the token, and a source without a timer holds nothing.
        _stop.Cancel();
    }
}
