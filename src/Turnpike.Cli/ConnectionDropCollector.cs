namespace Turnpike.Cli;

/// <summary>
/// Asks for a full garbage collection when many client connections have closed since the last one.
/// Each client connection of a raw listener owns a few KiB of long-lived objects (the reused context, parsers, socket
/// state) that end up in gen2. When a burst of connections closes, those objects are dead but stay in gen2 until the
/// GC's own gen2 budget runs out — which, on a path that allocates almost nothing per request, takes minutes. The next
/// burst of connections then allocates a second set beside the dead one, and the process peaks at both (measured at
/// 1000 connections: +8 MiB of heap, ~+12 MiB RSS; bench/results/NOTES-20261201-aotmem.md). One compacting gen2 GC
/// right after the drop frees that space and gives the emptied regions back. A background (non-compacting) gen2 GC
/// was measured too and is not enough: it leaves the space as gen2 free lists the next burst does not reuse, so the
/// committed size stays. Cost: one blocking collection of the live heap per large drop (14–48 ms measured after a drop from 1000
/// connections on the 2-core bench machine, once 389 ms with the core shared by builds),
/// none in steady state. Sampled once a second by the executable (<c>turnpike run</c>), never on the request path;
/// <c>TURNPIKE_DROP_GC=0</c> turns it off.
/// </summary>
internal sealed class ConnectionDropCollector : IDisposable
{
    /// <summary>A drop smaller than this many connections is not worth a collection.</summary>
    internal const int MinimumDrop = 256;

    private readonly Func<int> _openConnections;
    private readonly Action _collect;
    private readonly ITimer _timer;
    private readonly Decision _decision = new();

    public ConnectionDropCollector(Func<int> openConnections, TimeProvider time, Action? collect = null)
    {
        _openConnections = openConnections;
        _collect = collect ?? Compact;
        _timer = time.CreateTimer(static s => ((ConnectionDropCollector)s!).Sample(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Starts the collector on the system clock, unless <c>TURNPIKE_DROP_GC=0</c>.</summary>
    public static ConnectionDropCollector? StartUnlessDisabled(Func<int> openConnections) =>
        Environment.GetEnvironmentVariable("TURNPIKE_DROP_GC") == "0" ? null : new ConnectionDropCollector(openConnections, TimeProvider.System);

    /// <summary>Collections requested so far.</summary>
    public int Collections => _decision.Collections;

    private void Sample()
    {
        if (_decision.ShouldCollect(_openConnections()))
        {
            _collect();
        }
    }

    /// <summary>
    /// A blocking, compacting gen2 GC that also decommits the regions it empties (<see cref="GCCollectionMode.Aggressive"/>):
    /// a plain forced compaction moved the survivors into new regions and kept the old ones committed (committed 35.8 MiB
    /// for a 15.5 MiB heap afterwards, RSS up 3 MiB).
    /// </summary>
    private static void Compact() =>
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    public void Dispose() => _timer.Dispose();

    /// <summary>
    /// The rule, on one sample of the open-connection count: collect when the count has fallen by at least
    /// <see cref="MinimumDrop"/> and to at most half of its highest value since the last collection (or start).
    /// </summary>
    internal sealed class Decision
    {
        private int _peak;

        public int Collections { get; private set; }

        public bool ShouldCollect(int open)
        {
            if (open > _peak)
            {
                _peak = open;
                return false;
            }

            if (_peak - open < MinimumDrop || open > _peak / 2)
            {
                return false;
            }

            _peak = open;
            Collections++;
            return true;
        }
    }
}
