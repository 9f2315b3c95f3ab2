using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>The echo backend's answer: who answered and what arrived (method, path, query, headers, body length).</summary>
public static class Echo
{
    public static async Task WriteAsync(HttpContext context, string name)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var headers = new JsonObject();
        foreach (var h in context.Request.Headers)
        {
            headers[h.Key.ToLowerInvariant()] = h.Value.ToString();
        }

        var json = new JsonObject
        {
            ["backend"] = name,
            ["method"] = context.Request.Method,
            ["path"] = context.Request.Path.Value,
            ["query"] = context.Request.QueryString.Value,
            ["protocol"] = context.Request.Protocol,
            ["headers"] = headers,
            ["bodyLength"] = body.Length,
        };
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-backend"] = name;
        await context.Response.WriteAsync(json.ToJsonString());
    }

    public static async Task<EchoResult> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var node = JsonNode.Parse(text) ?? throw new InvalidOperationException("empty echo");
        return new EchoResult(node);
    }
}

public sealed class EchoResult(JsonNode node)
{
    public string Backend => node["backend"]!.GetValue<string>();

    public string Method => node["method"]!.GetValue<string>();

    public string Path => node["path"]!.GetValue<string>();

    public string Query => node["query"]!.GetValue<string>();

    public string Protocol => node["protocol"]!.GetValue<string>();

    public long BodyLength => node["bodyLength"]!.GetValue<long>();

    public string? Header(string name) => node["headers"]![name.ToLowerInvariant()]?.GetValue<string>();

    public override string ToString() => node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
