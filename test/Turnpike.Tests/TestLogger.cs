using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Turnpike.Tests;

/// <summary>A logger that keeps what it is given (level, event id, message), safe to write from any thread.</summary>
internal sealed class TestLogger : ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, int EventId, string Message)> _entries = new();

    public IReadOnlyList<(LogLevel Level, int EventId, string Message)> Entries => _entries.ToArray();

    public List<LogLevel> Levels => [.. _entries.Select(e => e.Level)];

    public List<string> Messages => [.. _entries.Select(e => e.Message)];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((logLevel, eventId.Id, formatter(state, exception)));
}
