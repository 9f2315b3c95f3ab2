using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>A real Kestrel server on 127.0.0.1, port 0, standing in for an upstream service.</summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestBackend(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>"http://127.0.0.1:port", the form a cluster destination takes.</summary>
    public string Address => Url.GetLeftPart(UriPartial.Authority);

    public int Requests => _requests;

    private int _requests;

    public static Task<TestBackend> StartAsync(RequestDelegate handler, HttpProtocols protocols = HttpProtocols.Http1, Action<WebApplication>? configure = null) =>
        StartAsync(handler, protocols, configure, null);

    public static Task<TestBackend> StartAsync(RequestDelegate handler, HttpProtocols protocols, Action<WebApplication>? configure, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate) =>
        StartAppAsync(protocols, services: null, app =>
        {
            configure?.Invoke(app);
            app.Run(handler);
        }, certificate);

    /// <summary>A backend whose services and pipeline the test sets up (a gRPC service, for instance).</summary>
    public static async Task<TestBackend> StartAppAsync(HttpProtocols protocols, Action<IServiceCollection>? services, Action<WebApplication> configure, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = protocols;
            if (certificate is not null)
            {
                l.UseHttps(certificate);
            }
        }));
        builder.Services.AddRoutingCore();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        TestBackend? backend = null;
        app.Use((context, next) =>
        {
            Interlocked.Increment(ref backend!._requests);
            return next(context);
        });
        configure(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        backend = new TestBackend(app, new Uri(address));
        return backend;
    }

    /// <summary>A backend that answers every request with a JSON echo of what it received.</summary>
    public static Task<TestBackend> StartEchoAsync(string name = "backend", HttpProtocols protocols = HttpProtocols.Http1) =>
        StartAsync(context => Echo.WriteAsync(context, name), protocols);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
