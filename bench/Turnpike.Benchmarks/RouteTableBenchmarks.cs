using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Turnpike.Routing;

namespace Turnpike.Benchmarks;

/// <summary><see cref="RouteTable.Match"/> over the 50-route table of <see cref="BenchmarkRoutes"/>, one request shape per benchmark.</summary>
[MemoryDiagnoser]
public class RouteTableBenchmarks
{
    private RouteTable _table = null!;
    private HttpRequest _prefix = null!;
    private HttpRequest _prefixWithMethod = null!;
    private HttpRequest _template = null!;
    private HttpRequest _hostExact = null!;
    private HttpRequest _hostWildcard = null!;
    private HttpRequest _header = null!;
    private HttpRequest _catchAllIndexedMiss = null!;
    private HttpRequest _catchAllUnindexed = null!;

    [GlobalSetup]
    public void Setup()
    {
        _table = BenchmarkRoutes.BuildTable();
        _prefix = Request("GET", "gw.example.com", "/svc18/items/42");
        _prefixWithMethod = Request("GET", "gw.example.com", "/svc19/items/42");
        _template = Request("GET", "gw.example.com", "/users14/123/orders/456");
        _hostExact = Request("GET", "tenant8.example.com", "/api/v1/things");
        _hostWildcard = Request("GET", "eu.tenant9.example.net", "/api/v1/things");
        _header = Request("GET", "gw.example.com", "/beta/feature", ("x-variant", "v3"));
        _catchAllIndexedMiss = Request("POST", "gw.example.com", "/svc19/items"); // svc19 is GET/HEAD only → falls to the catch-all
        _catchAllUnindexed = Request("GET", "gw.example.com", "/static/app.js");

        foreach (var (name, request, expected) in new[]
        {
            ("prefix", _prefix, "prefix-18"), ("prefixWithMethod", _prefixWithMethod, "prefix-19"),
            ("template", _template, "template-14"), ("hostExact", _hostExact, "host-08"),
            ("hostWildcard", _hostWildcard, "host-09"), ("header", _header, "header-03"),
            ("indexedMiss", _catchAllIndexedMiss, "catch-all"), ("unindexed", _catchAllUnindexed, "catch-all"),
        })
        {
            var got = _table.Match(request)?.Id;
            if (got != expected)
            {
                throw new InvalidOperationException($"{name}: expected route {expected}, matched {got ?? "(none)"}");
            }
        }
    }

    [Benchmark(Description = "prefix /svc18/items/42")]
    public object? Prefix() => _table.Match(_prefix);

    [Benchmark(Description = "prefix+method /svc19/items/42")]
    public object? PrefixWithMethod() => _table.Match(_prefixWithMethod);

    [Benchmark(Description = "template /users14/{id}/orders/{orderId} (captures)")]
    public object? Template() => _table.Match(_template);

    [Benchmark(Description = "host exact, 9th of 10 /api routes")]
    public object? HostExact() => _table.Match(_hostExact);

    [Benchmark(Description = "host wildcard, 10th of 10 /api routes")]
    public object? HostWildcard() => _table.Match(_hostWildcard);

    [Benchmark(Description = "header x-variant, 4th of 4 /beta routes")]
    public object? Header() => _table.Match(_header);

    [Benchmark(Description = "indexed segment, method mismatch -> catch-all")]
    public object? IndexedMissToCatchAll() => _table.Match(_catchAllIndexedMiss);

    [Benchmark(Description = "unindexed segment -> catch-all")]
    public object? UnindexedToCatchAll() => _table.Match(_catchAllUnindexed);

    private static HttpRequest Request(string method, string host, string path, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = method;
        request.Scheme = "http";
        request.Host = new HostString(host);
        request.Path = path;
        foreach (var (name, value) in headers)
        {
            request.Headers[name] = value;
        }

        return request;
    }
}
