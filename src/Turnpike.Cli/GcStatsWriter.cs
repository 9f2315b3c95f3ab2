using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Runtime;
using System.Text;

namespace Turnpike.Cli;

/// <summary>
/// Investigation aid (bench/results/NOTES-*-memory.md): with <c>TURNPIKE_GC_STATS=&lt;file&gt;</c> set, appends one line a
/// second with the GC's view of memory (heap size, committed, fragmentation, per-generation sizes before/after the
/// last GC, pinned objects, collection counts) and the process's RSS, plus the GC's effective configuration once at
/// start. Off (no thread, no timer) unless the variable is set; never on the request path.
/// </summary>
internal sealed class GcStatsWriter : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Timer _timer;
    private readonly long _start = Environment.TickCount64;
    private long _exceptions;
    private readonly ConcurrentDictionary<string, int> _exceptionKinds = new();
    private long _exceptionsWritten;

    private GcStatsWriter(string path)
    {
        _writer = new StreamWriter(path, append: true, Encoding.UTF8) { AutoFlush = true };
        var config = new StringBuilder("# GC config:");
        config.Append(CultureInfo.InvariantCulture, $" server={GCSettings.IsServerGC} latencyMode={GCSettings.LatencyMode} processors={Environment.ProcessorCount}");
        foreach (var (key, value) in GC.GetConfigurationVariables())
        {
            config.Append(CultureInfo.InvariantCulture, $" {key}={value}");
        }

        _writer.WriteLine(config.ToString());
        _writer.WriteLine("# t_s rss_mib heap_mib committed_mib frag_mib gen0_before/after gen1_before/after gen2_before/after loh_before/after poh_before/after (MiB) pinned gcs(0/1/2) alloc_mib promoted_mib threads pause_total_ms first_chance_exceptions");
        AppDomain.CurrentDomain.FirstChanceException += OnFirstChanceException;
        _timer = new Timer(static s => ((GcStatsWriter)s!).Write(), this, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    /// <summary>Starts the writer when <c>TURNPIKE_GC_STATS</c> names a file; else null.</summary>
    public static GcStatsWriter? StartFromEnvironment()
    {
        var path = Environment.GetEnvironmentVariable("TURNPIKE_GC_STATS");
        return string.IsNullOrEmpty(path) ? null : new GcStatsWriter(path);
    }

    private void Write()
    {
        try
        {
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            var g = info.GenerationInfo;
            var line = new StringBuilder();
            line.Append(CultureInfo.InvariantCulture, $"{(Environment.TickCount64 - _start) / 1000.0:F0} {Mib(Environment.WorkingSet)} {Mib(info.HeapSizeBytes)} {Mib(info.TotalCommittedBytes)} {Mib(info.FragmentedBytes)}");
            for (var i = 0; i < g.Length; i++)
            {
                line.Append(CultureInfo.InvariantCulture, $" {Mib(g[i].SizeBeforeBytes)}/{Mib(g[i].SizeAfterBytes)}");
            }

            line.Append(CultureInfo.InvariantCulture, $" {info.PinnedObjectsCount} {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} {Mib(GC.GetTotalAllocatedBytes())} {Mib(info.PromotedBytes)} {ThreadPool.ThreadCount} {GC.GetTotalPauseDuration().TotalMilliseconds:F1} {Interlocked.Read(ref _exceptions)}");
            _writer.WriteLine(line.ToString());
            // Exceptions by type and message, whenever more were thrown since the last line (they allocate, and a burst of
            // them when many connections close at once was one of the RSS peaks: bench/results/NOTES-20261201-aotpeak.md).
            var exceptions = Interlocked.Read(ref _exceptions);
            if (exceptions != _exceptionsWritten)
            {
                _exceptionsWritten = exceptions;
                foreach (var (kind, count) in _exceptionKinds)
                {
                    _writer.WriteLine($"# exception {count} x {kind}");
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void OnFirstChanceException(object? sender, FirstChanceExceptionEventArgs e)
    {
        Interlocked.Increment(ref _exceptions);
        var message = e.Exception.Message;
        _exceptionKinds.AddOrUpdate($"{e.Exception.GetType().Name}: {(message.Length > 100 ? message[..100] : message)}", 1, static (_, n) => n + 1);
    }

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        AppDomain.CurrentDomain.FirstChanceException -= OnFirstChanceException;
        _timer.Dispose();
        _writer.Dispose();
    }
}
