using Microsoft.Extensions.Logging;

namespace Turnpike.Hosting;

/// <summary>
/// Watches the configuration file's folder (editors and deploy tools often replace the file by rename) and triggers
/// one reload per burst of changes, after a short quiet period.
/// </summary>
internal sealed partial class ConfigWatcher : IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(200);
    private readonly FileSystemWatcher _watcher;
    private readonly Func<Task> _reload;
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private readonly string _fileName;

    public ConfigWatcher(string path, Func<Task> reload, ILogger logger)
    {
        _reload = reload;
        _logger = logger;
        _fileName = Path.GetFileName(path);
        _timer = new Timer(_ => _ = FireAsync(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(Path.GetFullPath(path))!)
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            IncludeSubdirectories = false,
        };
        _watcher.Changed += OnEvent;
        _watcher.Created += OnEvent;
        _watcher.Renamed += OnEvent;
        _watcher.EnableRaisingEvents = true;
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.Name, _fileName, StringComparison.Ordinal))
        {
            _timer.Change(Debounce, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task FireAsync()
    {
        try
        {
            await _reload().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogReloadFailed(_logger, ex);
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _timer.Dispose();
    }

    [LoggerMessage(40, LogLevel.Error, "Reload after a file change failed")]
    private static partial void LogReloadFailed(ILogger logger, Exception ex);
}
