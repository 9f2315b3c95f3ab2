using System.CommandLine;
using System.Runtime.InteropServices;
using Turnpike.Configuration;
using Turnpike.Hosting;

namespace Turnpike.Cli;

internal static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c")
        {
            Description = "YAML configuration file (watched for changes). Without it, the embedded default runs with a demo upstream.",
        };
        var port = new Option<int?>("--port", "-p")
        {
            Description = "Override the port of the first listener (env TURNPIKE_PORT).",
        };
        var adminPort = new Option<int?>("--admin-port")
        {
            Description = "Override the admin port (env TURNPIKE_ADMIN_PORT).",
        };

        var command = new Command("run", "Run the gateway.") { config, port, adminPort };
        command.SetAction((parse, _) => RunAsync(
            parse.GetValue(config),
            parse.GetValue(port) ?? EnvInt("TURNPIKE_PORT"),
            parse.GetValue(adminPort) ?? EnvInt("TURNPIKE_ADMIN_PORT")));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo? configFile, int? port, int? adminPort)
    {
        Func<GatewayConfig, GatewayConfig>? overrides = port is null && adminPort is null ? null : c => ApplyOverrides(c, port, adminPort);
        var source = configFile is null ? ConfigSource.Embedded(overrides) : ConfigSource.FromFile(configFile.FullName, overrides);
        // Before anything runs on the thread pool: the runtime reads its spin setting when the first worker starts.
        ThreadPoolSpin.TurnOffIfUnused(ThreadPoolSpin.Peek(source));

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we exit by ourselves once drained
            stop.TrySetResult();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        var server = new TurnpikeServer(source);
        try
        {
            await server.StartAsync();
        }
        catch (ConfigException ex)
        {
            await Console.Error.WriteLineAsync($"turnpike: {source.Description} is not valid:");
            foreach (var error in ex.Errors)
            {
                await Console.Error.WriteLineAsync($"  {error}");
            }

            return 1;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.Net.Sockets.SocketException or System.Security.Cryptography.CryptographicException)
        {
            // Address in use (Kestrel's AddressInUseException is an InvalidOperationException), permission denied,
            // an unreadable certificate: say so plainly instead of a stack trace.
            await Console.Error.WriteLineAsync($"turnpike: cannot start: {ex.Message}");
            await server.DisposeAsync();
            return 1;
        }

        PrintBanner(server, source);
        // Start-up is over: give back the code and read-only data only start-up used (StartupPages).
        StartupPages.ReleaseUnlessDisabled();
        using var gcStats = GcStatsWriter.StartFromEnvironment();
        using var dropCollector = ConnectionDropCollector.StartUnlessDisabled(() => server.OpenRawConnections);
        await stop.Task;
        await server.DisposeAsync();
        return 0;
    }

    private static void PrintBanner(TurnpikeServer server, ConfigSource source)
    {
        Console.WriteLine($"Turnpike is running ({source.Description}).");
        foreach (var (name, url) in server.ListenerUrls)
        {
            Console.WriteLine($"  listener {name,-10} {url}");
        }

        if (server.AdminUrl is { } admin)
        {
            Console.WriteLine($"  admin               {admin}  (try {new Uri(admin, "/readyz")}, {new Uri(admin, "/admin/config")})");
        }

        if (source.Path is null && server.DemoUrl is { } demo && server.ListenerUrls.Values.FirstOrDefault() is { } first)
        {
            Console.WriteLine($"  demo upstream       {demo}");
            Console.WriteLine();
            Console.WriteLine("Try:");
            Console.WriteLine($"  curl {new Uri(first, "/api/hello")}");
            Console.WriteLine($"  curl -i {new Uri(first, "/anything?x=1")}");
        }

        Console.WriteLine("Press Ctrl+C (or send SIGTERM) to drain and stop.");
    }

    private static GatewayConfig ApplyOverrides(GatewayConfig config, int? port, int? adminPort)
    {
        var listeners = config.Listeners.ToList();
        if (port is not null && listeners.Count > 0)
        {
            listeners[0] = listeners[0] with { Port = port.Value };
        }

        return config with
        {
            Listeners = listeners,
            Admin = adminPort is null ? config.Admin : config.Admin with { Port = adminPort.Value },
        };
    }

    private static int? EnvInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) ? value : null;
}
