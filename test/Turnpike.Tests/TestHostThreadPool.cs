using System.Runtime.CompilerServices;

namespace Turnpike.Tests;

/// <summary>
/// The test host (xunit and vstest) keeps a couple of thread-pool threads blocked at times; with a 2-core machine's
/// default minimum of 2 threads, a timer continuation then waits up to ~800 ms for the pool to inject a thread. A
/// 16 KiB-piece shaper measured alone in this host lost 0.6 to 0.8 s in one stall per 2.4 s run, and exactly 0 with
/// a minimum of 16 threads. The gateways the functional tests start run in this process too, so their timings need
/// the same. Linked into both test assemblies.
/// </summary>
internal static class TestHostThreadPool
{
    private const int MinimumThreads = 16;

    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "A test assembly: the host must have its threads before any test starts.")]
    internal static void RaiseMinimum()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, MinimumThreads), Math.Max(io, MinimumThreads));
    }
}
