using Turnpike.Configuration;
using Turnpike.Sockets;

namespace Turnpike.Cli;

/// <summary>
/// Turns the thread pool's spinning off when the data plane does not run on the pool: every listener and every cluster
/// on the raw engines, over the epoll socket engine. Then the pool only gets background work (timer callbacks such as
/// the rate limiter's tick, the access-log writer, health checks), and each such item woke a worker that spun up to ~70
/// <c>sched_yield</c>s before it slept, on the same core as the epoll thread: at 50 connections 1.2 % of the process's
/// CPU samples and 1,400–5,000 involuntary context switches a second, against about 25 a second without
/// (bench/results/NOTES-20261201-threadpool-spin.md). With a Kestrel listener or a YARP cluster, requests do run on pool
/// workers and spinning is kept: there it saves more than it costs (3–5 % less CPU per request on the Kestrel listener
/// in bench/results/e2e-20261201-060444.md).
/// <para>
/// The runtime reads the setting once, when its first worker starts, so this runs before anything is queued to the pool,
/// from the configuration as it is at start-up (a reload does not change it). A value set by
/// <c>DOTNET_ThreadPool_UnfairSemaphoreSpinLimit</c> or in <c>runtimeconfig.json</c> is left alone.
/// </para>
/// </summary>
internal static class ThreadPoolSpin
{
    internal const string SettingName = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";
    internal const string VariableName = "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit";

    /// <summary>Sets the spin limit to 0 when <paramref name="config"/> keeps requests off the pool and nothing set it; true when it did.</summary>
    public static bool TurnOffIfUnused(GatewayConfig? config)
    {
        if (config is null || !SocketEngine.UseEpoll || !DataPlaneOffThePool(config)
            || Environment.GetEnvironmentVariable(VariableName) is not null || AppContext.GetData(SettingName) is not null)
        {
            return false;
        }

        AppContext.SetData(SettingName, 0);
        return true;
    }

    /// <summary>True when every listener is raw and every cluster sends with the raw client (and there is a listener).</summary>
    internal static bool DataPlaneOffThePool(GatewayConfig config)
    {
        if (config.Listeners.Count == 0)
        {
            return false;
        }

        foreach (var listener in config.Listeners)
        {
            if (listener.Engine != ListenerEngine.Raw)
            {
                return false;
            }
        }

        foreach (var cluster in config.Clusters)
        {
            if (cluster.Http.Engine != UpstreamEngine.Raw)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The configuration <paramref name="source"/> holds now as the YAML reader sees it (null when it has errors: the server's own load reports them).</summary>
    public static GatewayConfig? Peek(ConfigSource source)
    {
        var result = source.ReadYaml();
        return result.Errors.Count == 0 ? result.Config : null;
    }
}
