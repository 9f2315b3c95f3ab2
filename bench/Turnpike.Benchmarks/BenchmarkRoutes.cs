using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Model;
using Turnpike.Routing;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Turnpike.Benchmarks;

/// <summary>
/// A 50-route configuration built the way the gateway builds it: YAML → <see cref="YamlConfigReader"/> →
/// <see cref="RuntimeModelBuilder"/> → <see cref="RouteTable"/>.
/// </summary>
internal static class BenchmarkRoutes
{
    public const int RouteCount = 50;

    /// <summary>
    /// 20 path-prefix routes (/svc00 … /svc19), 10 of them also restricted by method; 15 templates with parameters
    /// (/users{i}/{id}/orders/{orderId}); 10 host-matched prefix routes on /api (exact and "*.domain" wildcards, several
    /// routes sharing the first segment "api"); 4 header-matched routes on /beta; and a final catch-all "/{**rest}".
    /// </summary>
    public static string Yaml()
    {
        var y = new StringBuilder();
        y.AppendLine("listeners:\n  public:\n    port: 8080\n    protocols: http1");
        y.AppendLine("admin:\n  enabled: false");
        y.AppendLine("clusters:\n  backend:\n    destinations:\n      d1: http://127.0.0.1:9000");
        y.AppendLine("routes:");
        var n = 0;
        for (var i = 0; i < 20; i++, n++)
        {
            y.Append(CultureInfo.InvariantCulture, $"  prefix-{i:00}:\n    match:\n      pathPrefix: /svc{i:00}\n");
            if (i % 2 == 1)
            {
                y.AppendLine("      methods: [GET, HEAD]");
            }

            y.AppendLine("    cluster: backend");
        }

        for (var i = 0; i < 15; i++, n++)
        {
            y.Append(CultureInfo.InvariantCulture, $"  template-{i:00}:\n    match:\n      path: /users{i:00}/{{id}}/orders/{{orderId}}\n    cluster: backend\n");
        }

        for (var i = 0; i < 10; i++, n++)
        {
            var host = i % 2 == 0 ? $"tenant{i}.example.com" : $"*.tenant{i}.example.net";
            y.Append(CultureInfo.InvariantCulture, $"  host-{i:00}:\n    match:\n      pathPrefix: /api\n      hosts: [\"{host}\"]\n    cluster: backend\n");
        }

        for (var i = 0; i < 4; i++, n++)
        {
            y.Append(CultureInfo.InvariantCulture, $"  header-{i:00}:\n    match:\n      pathPrefix: /beta\n      headers:\n        - name: x-variant\n          values: [v{i}]\n    cluster: backend\n");
        }

        y.AppendLine("  catch-all:\n    match:\n      path: /{**rest}\n    cluster: backend");
        n++;
        if (n != RouteCount)
        {
            throw new InvalidOperationException($"expected {RouteCount} routes, generated {n}");
        }

        return y.ToString();
    }

    public static RouteTable BuildTable()
    {
        var result = YamlConfigReader.Read(Yaml(), "bench.yaml");
        if (!result.IsValid)
        {
            throw new InvalidOperationException("bench.yaml is invalid:\n" + string.Join('\n', result.Errors));
        }

        using var services = new ServiceCollection().AddLogging().AddTurnpikeForwarding().BuildServiceProvider();
        var builder = new RuntimeModelBuilder(services.GetRequiredService<ITransformBuilder>());
        var table = builder.Build(result.Config!, 1, "bench.yaml").Routes;
        if (table.All.Count != RouteCount)
        {
            throw new InvalidOperationException($"expected {RouteCount} routes in the table, got {table.All.Count}");
        }

        return table;
    }
}
