using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.Cors;

namespace Turnpike.Benchmarks;

/// <summary>
/// The per-request cost of the CORS step on a route with a policy: the response headers of an actual request (exact
/// origin, wildcard-subdomain origin, disallowed origin) and a preflight's verdict and answer headers. Every case
/// starts by clearing the response headers, which is all the baseline does.
/// </summary>
[MemoryDiagnoser]
public class CorsBenchmarks
{
    private CorsPolicy _policy = null!;
    private IHeaderDictionary _exact = null!;
    private IHeaderDictionary _wildcard = null!;
    private IHeaderDictionary _disallowed = null!;
    private IHeaderDictionary _preflight = null!;
    private IHeaderDictionary _response = null!;

    [GlobalSetup]
    public void Setup()
    {
        _policy = new CorsPolicy(new CorsPolicyConfig
        {
            Name = "web",
            Origins = ["https://app.example.com", "https://admin.example.com", "http://localhost:3000", "https://*.example.org", "https://*.example.com"],
            Methods = ["GET", "POST", "PUT", "DELETE"],
            Headers = ["content-type", "authorization", "x-request-id"],
            ExposeHeaders = ["x-request-id"],
            Credentials = true,
            MaxAge = TimeSpan.FromMinutes(10),
        });
        _exact = new HeaderDictionary { ["Origin"] = "https://app.example.com" };
        _wildcard = new HeaderDictionary { ["Origin"] = "https://tenant-42.eu.example.com" };
        _disallowed = new HeaderDictionary { ["Origin"] = "https://evil-example.com" };
        _preflight = new HeaderDictionary
        {
            ["Origin"] = "https://tenant-42.eu.example.com",
            ["Access-Control-Request-Method"] = "PUT",
            ["Access-Control-Request-Headers"] = "authorization,content-type",
        };
        _response = new DefaultHttpContext().Response.Headers;
    }

    [Benchmark(Baseline = true, Description = "no policy (route.Cors is null): reset only")]
    public int Off()
    {
        _response.Clear();
        return _response.Count;
    }

    [Benchmark(Description = "actual request, exact origin allowed")]
    public int ActualExact()
    {
        _response.Clear();
        _policy.ApplyToResponse(_exact, _response);
        return _response.Count;
    }

    [Benchmark(Description = "actual request, wildcard-subdomain origin allowed")]
    public int ActualWildcard()
    {
        _response.Clear();
        _policy.ApplyToResponse(_wildcard, _response);
        return _response.Count;
    }

    [Benchmark(Description = "actual request, origin not allowed")]
    public int ActualDisallowed()
    {
        _response.Clear();
        _policy.ApplyToResponse(_disallowed, _response);
        return _response.Count;
    }

    [Benchmark(Description = "preflight (wildcard origin, method, 2 headers): verdict + 204 headers")]
    public int Preflight()
    {
        _response.Clear();
        if (_policy.Evaluate(_preflight) == PreflightVerdict.Allowed)
        {
            _policy.WritePreflightHeaders(_preflight, _response);
        }

        return _response.Count;
    }
}
