using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;
using Turnpike.Hosting;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// The real gateway in-process: the YAML is written to a temporary file (so hot reload can be exercised), and
/// every listener binds 127.0.0.1 port 0.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly string _directory;

    private GatewayHost(TurnpikeServer server, string directory, string configPath)
    {
        Server = server;
        _directory = directory;
        ConfigPath = configPath;
        Url = server.ListenerUrls.Values.First();
        Client = CreateClient();
    }

    public TurnpikeServer Server { get; }

    /// <summary>
    /// TURNPIKE_TEST_LISTENER_ENGINE=raw runs every eligible listener (HTTP/1.1, no TLS, no explicit engine) on the
    /// raw-socket listener, so the whole suite can run against it.
    /// </summary>
    public static ListenerEngine? DefaultEngine { get; } =
        string.Equals(Environment.GetEnvironmentVariable("TURNPIKE_TEST_LISTENER_ENGINE"), "raw", StringComparison.OrdinalIgnoreCase) ? ListenerEngine.Raw : null;

    public string ConfigPath { get; }

    /// <summary>The first listener's URL.</summary>
    public Uri Url { get; }

    public Uri AdminUrl => Server.AdminUrl ?? throw new InvalidOperationException("admin is disabled");

    public HttpClient Client { get; }

    /// <summary>
    /// Starts the gateway with <paramref name="yaml"/>. When the YAML has no listeners/admin sections, a loopback
    /// listener and admin on port 0 are added.
    /// </summary>
    public static Task<GatewayHost> StartAsync(string yaml, params (string Name, string Content)[] files) =>
        StartAsync(yaml, configureServices: null, files);

    /// <summary>As above; <paramref name="configureServices"/> may replace the gateway's services (the DNS resolver, for instance).</summary>
    public static async Task<GatewayHost> StartAsync(string yaml, Action<IServiceCollection>? configureServices, params (string Name, string Content)[] files)
    {
        var directory = Directory.CreateTempSubdirectory("turnpike-test-").FullName;
        foreach (var (name, content) in files)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, name), content);
        }

        var path = Path.Combine(directory, "turnpike.yaml");
        await File.WriteAllTextAsync(path, WithDefaults(yaml));
        var server = new TurnpikeServer(ConfigSource.FromFile(path), logging => logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Turnpike", LogLevel.Warning))
        {
            ConfigureServices = configureServices,
            DefaultUpstreamEngine = DefaultUpstreamEngine,
            DefaultListenerEngine = DefaultEngine,
        };
        try
        {
            await server.StartAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return new GatewayHost(server, directory, path);
    }

    /// <summary>
    /// <c>TURNPIKE_TEST_UPSTREAM_ENGINE=raw</c> runs every cluster that may use the raw HTTP/1.1 engine (http://
    /// destinations, HTTP/1.1, no explicit <c>http.engine</c>) on it, so the whole suite exercises that engine.
    /// </summary>
    internal static UpstreamEngine? DefaultUpstreamEngine { get; } =
        Environment.GetEnvironmentVariable("TURNPIKE_TEST_UPSTREAM_ENGINE") is { Length: > 0 } engine && Enum.TryParse<UpstreamEngine>(engine, ignoreCase: true, out var parsed) ? parsed : null;

    public static string WithDefaults(string yaml)
    {
        var prefix = string.Empty;
        if (!yaml.Contains("listeners:", StringComparison.Ordinal))
        {
            prefix += "listeners:\n  main:\n    address: 127.0.0.1\n    port: 0\n";
        }

        if (!yaml.Contains("admin:", StringComparison.Ordinal))
        {
            prefix += "admin:\n  address: 127.0.0.1\n  port: 0\n";
        }

        return prefix + yaml;
    }

    /// <summary>Rewrites the config file in place (as an editor would); the watcher picks it up.</summary>
    public Task WriteConfigAsync(string yaml) => File.WriteAllTextAsync(ConfigPath, WithDefaults(yaml));

    public static HttpClient CreateClient(Version? version = null, HttpVersionPolicy policy = HttpVersionPolicy.RequestVersionExact) =>
        new(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
        })
        {
            DefaultRequestVersion = version ?? HttpVersion.Version11,
            DefaultVersionPolicy = policy,
            Timeout = TimeSpan.FromSeconds(30),
        };

    public Uri Combine(string pathAndQuery) => new(Url, pathAndQuery);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
