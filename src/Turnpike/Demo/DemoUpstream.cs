using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;
using Turnpike.Hosting;

namespace Turnpike.Demo;

/// <summary>
/// A tiny upstream served in-process for the embedded default configuration, so `turnpike run` shows a proxied
/// response with no other service running. It echoes what it received, including the X-Forwarded-* headers.
/// </summary>
internal static class DemoUpstream
{
    public static WebApplication Create(DemoUpstreamConfig config, Action<ILoggingBuilder> configureLogging)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Turnpike.Demo" });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddSingleton<IHostLifetime, ExternalLifetime>();
        configureLogging(builder.Logging);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.AddServerHeader = false;
            o.Listen(TurnpikeServer.ParseAddress(config.Address), config.Port);
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        var json = new Utf8JsonWriter(context.Response.BodyWriter, new JsonWriterOptions { Indented = true });
        await using (json.ConfigureAwait(false))
        {
            json.WriteStartObject();
            json.WriteString("service", "turnpike-demo-upstream");
            json.WriteString("message", "Hello from the demo upstream, proxied by Turnpike.");
            json.WriteString("method", context.Request.Method);
            json.WriteString("path", context.Request.Path.Value);
            json.WriteString("query", context.Request.QueryString.Value);
            json.WriteStartObject("forwarded");
            foreach (var name in new[] { "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host" })
            {
                json.WriteString(name, context.Request.Headers[name].ToString());
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        await context.Response.BodyWriter.WriteAsync("\n"u8.ToArray()).ConfigureAwait(false);
    }
}
