using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;

namespace Turnpike.Admin.Dashboard;

/// <summary>
/// The dashboard page's static files, embedded in the assembly (no CDN: the page works offline), read once at
/// start-up and served from memory.
/// </summary>
internal static class DashboardAssets
{
    private static readonly FrozenDictionary<string, (string ContentType, byte[] Body)> Files = Load();

    public static bool TryServe(HttpContext context, out Task task)
    {
        var path = context.Request.Path.Value ?? "/";
        if (!Files.TryGetValue(path == "/" ? "/index.html" : path, out var file))
        {
            task = Task.CompletedTask;
            return false;
        }

        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = file.ContentType;
        response.ContentLength = file.Body.Length;
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Content-Type-Options"] = "nosniff";
        task = HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(file.Body).AsTask();
        return true;
    }

    private static FrozenDictionary<string, (string, byte[])> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, (string, byte[])>(StringComparer.Ordinal);
        foreach (var (name, type) in new[]
        {
            ("index.html", "text/html; charset=utf-8"),
            ("dashboard.js", "text/javascript; charset=utf-8"),
            ("dashboard.css", "text/css; charset=utf-8"),
        })
        {
            using var stream = assembly.GetManifestResourceStream("Turnpike.Dashboard." + name)
                ?? throw new InvalidOperationException($"embedded dashboard file {name} is missing");
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            files["/" + name] = (type, memory.ToArray());
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
