using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Turnpike.Connections;

namespace Turnpike.Tests.Connections;

/// <summary>"DNS" whose answers the test sets; each lookup is counted and may be held until the test releases it.</summary>
internal sealed class ScriptedResolver : IHostResolver
{
    private readonly ConcurrentDictionary<string, Func<IPAddress[]>> _answers = new(StringComparer.OrdinalIgnoreCase);
    private int _lookups;

    public int Lookups => Volatile.Read(ref _lookups);

    /// <summary>When set, lookups wait for it (or for their cancellation) before answering.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public void Set(string host, params IPAddress[] addresses) => _answers[host] = () => addresses;

    public void Fail(string host, Exception error) => _answers[host] = () => throw error;

    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lookups);
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        return _answers.TryGetValue(host, out var answer)
            ? answer()
            : throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound);
    }
}

/// <summary>Keeps every log line written to it.</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, formatter(state, exception)));
}
