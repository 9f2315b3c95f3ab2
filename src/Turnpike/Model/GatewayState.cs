using Microsoft.Extensions.Logging;
using Turnpike.Configuration;

namespace Turnpike.Model;

/// <summary>
/// Owns the current <see cref="GatewaySnapshot"/> and replaces it atomically on reload. A reload that has any error
/// keeps the running snapshot.
/// </summary>
internal sealed partial class GatewayState : IDisposable
{
    private readonly RuntimeModelBuilder _builder;
    private readonly ConfigSource _source;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private GatewaySnapshot? _current;
    private long _generation;

    public GatewayState(RuntimeModelBuilder builder, ConfigSource source, ILogger<GatewayState> logger)
    {
        _builder = builder;
        _source = source;
        _logger = logger;
    }

    public GatewaySnapshot Current => Volatile.Read(ref _current) ?? throw new InvalidOperationException("The gateway has no configuration yet.");

    public bool HasConfig => Volatile.Read(ref _current) is not null;

    public ConfigSource Source => _source;

    /// <summary>Loads the initial configuration. Returns the errors; nothing is applied when there are any.</summary>
    public IReadOnlyList<ConfigError> Initialize(GatewayConfig? preloaded = null)
    {
        var result = preloaded is null ? _source.Load(_builder) : new ConfigLoadResult(preloaded, []);
        if (!result.IsValid)
        {
            return result.Errors;
        }

        Apply(result.Config!);
        return [];
    }

    /// <summary>Reads the configuration source again and swaps in the new model if it is valid.</summary>
    public async Task<IReadOnlyList<ConfigError>> ReloadAsync(CancellationToken cancellationToken = default)
    {
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = _source.Load(_builder);
            if (!result.IsValid)
            {
                foreach (var error in result.Errors)
                {
                    LogReloadError(_logger, error.ToString());
                }

                LogReloadRejected(_logger, _source.Description, result.Errors.Count);
                return result.Errors;
            }

            var config = result.Config!;
            if (_current?.Config is { } running)
            {
                var changed = RestartOnlyChanges(running, config);
                if (changed.Count > 0)
                {
                    LogNeedsRestart(_logger, string.Join(", ", changed));
                }

                // Keep what is actually bound and running, so the model (and /admin/config) never claims settings
                // that are not in effect.
                config = config with { Listeners = running.Listeners, Admin = running.Admin, Server = running.Server, Logging = running.Logging, Demo = running.Demo, Tracing = running.Tracing };
            }

            Apply(config);
            LogReloaded(_logger, _source.Description, _generation);
            return [];
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private void Apply(GatewayConfig config)
    {
        var generation = Interlocked.Increment(ref _generation);
        var snapshot = _builder.Build(config, generation, _source.Description, Volatile.Read(ref _current));
        var previous = Interlocked.Exchange(ref _current, snapshot);
        snapshot.Start();
        previous?.DisposeExcept(snapshot);
    }

    /// <summary>Stops the current snapshot's health checks (at shutdown).</summary>
    public void Dispose() => Volatile.Read(ref _current)?.Dispose();

    /// <summary>Sections that are applied at start-up only: listeners, admin, server, logging, tracing and the demo upstream.</summary>
    internal static List<string> RestartOnlyChanges(GatewayConfig running, GatewayConfig next)
    {
        var changed = new List<string>();
        // Where a listener is written in the file is not a setting.
        if (!running.Listeners.Select(l => l with { Location = default }).SequenceEqual(next.Listeners.Select(l => l with { Location = default })))
        {
            changed.Add("listeners");
        }

        if (running.Admin != next.Admin)
        {
            changed.Add("admin");
        }

        if (running.Server != next.Server)
        {
            changed.Add("server");
        }

        if (running.Logging != next.Logging)
        {
            changed.Add("logging");
        }

        if (running.Demo != next.Demo)
        {
            changed.Add("demo");
        }

        if (running.Tracing != next.Tracing)
        {
            changed.Add("tracing");
        }

        return changed;
    }

    [LoggerMessage(1, LogLevel.Information, "Configuration reloaded from {Source} (generation {Generation})")]
    private static partial void LogReloaded(ILogger logger, string source, long generation);

    [LoggerMessage(2, LogLevel.Error, "Configuration reload from {Source} rejected with {Count} error(s); the running configuration is kept")]
    private static partial void LogReloadRejected(ILogger logger, string source, int count);

    [LoggerMessage(3, LogLevel.Error, "Config error: {Error}")]
    private static partial void LogReloadError(ILogger logger, string error);

    [LoggerMessage(4, LogLevel.Warning, "Changes to {Sections} take effect after a restart; routes and clusters were reloaded")]
    private static partial void LogNeedsRestart(ILogger logger, string sections);
}
