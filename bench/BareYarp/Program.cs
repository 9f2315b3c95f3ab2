using System.Net;
using Yarp.ReverseProxy.Configuration;

// Bare YARP baseline: one catch-all route to one destination, everything else at its defaults.
//   BareYarp --destination http://127.0.0.1:9000 --port 5000 [--inline]
//   BAREYARP_DESTINATION=http://127.0.0.1:9000 BAREYARP_PORT=5000 [BAREYARP_INLINE=1] BareYarp
// --inline is NOT the baseline: it turns on the two inline-scheduling knobs Turnpike uses by default (Kestrel
// UnsafePreferInlineScheduling and DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1), to separate their effect from
// the rest.
var destination = Arg(args, "--destination") ?? Environment.GetEnvironmentVariable("BAREYARP_DESTINATION");
var portText = Arg(args, "--port") ?? Environment.GetEnvironmentVariable("BAREYARP_PORT") ?? "5000";
var inline = args.Contains("--inline") || Environment.GetEnvironmentVariable("BAREYARP_INLINE") == "1";
if (destination is null || !int.TryParse(portText, out var port))
{
    Console.Error.WriteLine("usage: BareYarp --destination http://HOST:PORT [--port N] [--inline]   (or env BAREYARP_DESTINATION, BAREYARP_PORT, BAREYARP_INLINE=1)");
    return 2;
}

if (inline)
{
    // Read by the socket engine when the first socket is created, which is later than this.
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

var builder = WebApplication.CreateBuilder(); // our arguments are not configuration keys
// The template's appsettings.json sets "Microsoft.AspNetCore": "Warning"; without one, hosting would log every
// request at Information. Warning matches the Turnpike bench config (logging: {level: warning}).
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, port));
if (inline)
{
    builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
}

builder.Services.AddReverseProxy().LoadFromMemory(
    [
        new RouteConfig
        {
            RouteId = "all",
            ClusterId = "backend",
            Match = new RouteMatch { Path = "/{**catch-all}" },
        },
    ],
    [
        new ClusterConfig
        {
            ClusterId = "backend",
            Destinations = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase)
            {
                ["d1"] = new DestinationConfig { Address = destination },
            },
        },
    ]);

var app = builder.Build();
app.MapReverseProxy();
await app.StartAsync();
Console.WriteLine($"BareYarp listening on http://127.0.0.1:{port} -> {destination} (inline: {inline}, server GC: {System.Runtime.GCSettings.IsServerGC}, concurrent GC: {AppContext.GetData("System.GC.Concurrent") ?? "default"}, processors: {Environment.ProcessorCount})");
await app.WaitForShutdownAsync();
return 0;

static string? Arg(string[] args, string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
