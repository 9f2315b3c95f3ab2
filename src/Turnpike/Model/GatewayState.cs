using Microsoft.Extensions.Logging;
using Turnpike.Configuration;

namespace Turnpike.Model;

/// <summary>
/// Owns the current <see cref="GatewaySnapshot"/> and replaces it atomically on reload. A reload that has any error
/// keeps the running snapshot.
/// </summary>
internal sealed partial class GatewayState
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

            var previous = _current?.Config;
            if (previous is not null && ListenersChanged(previous, result.Config!))
            {
                LogListenersNeedRestart(_logger);
            }

            Apply(result.Config!);
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
        var snapshot = _builder.Build(config, generation, _source.Description);
        Volatile.Write(ref _current, snapshot);
    }

    private static bool ListenersChanged(GatewayConfig a, GatewayConfig b) =>
        !a.Listeners.SequenceEqual(b.Listeners) || a.Admin != b.Admin || a.Server.Limits != b.Server.Limits;

    [LoggerMessage(1, LogLevel.Information, "Configuration reloaded from {Source} (generation {Generation})")]
    private static partial void LogReloaded(ILogger logger, string source, long generation);

    [LoggerMessage(2, LogLevel.Error, "Configuration reload from {Source} rejected with {Count} error(s); the running configuration is kept")]
    private static partial void LogReloadRejected(ILogger logger, string source, int count);

    [LoggerMessage(3, LogLevel.Error, "Config error: {Error}")]
    private static partial void LogReloadError(ILogger logger, string error);

    [LoggerMessage(4, LogLevel.Warning, "Listener, admin or server-limit changes take effect after a restart; routes and clusters were reloaded")]
    private static partial void LogListenersNeedRestart(ILogger logger);
}
