using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Turnpike.Pipeline;

namespace Turnpike.Benchmarks;

/// <summary><see cref="RequestHeaderValidator.AreForwardable"/>, run on every forwarded request.</summary>
[MemoryDiagnoser]
public class HeaderValidatorBenchmarks
{
    private IHeaderDictionary _wrk = null!;
    private IHeaderDictionary _browser = null!;
    private IHeaderDictionary _invalidLast = null!;

    [GlobalSetup]
    public void Setup()
    {
        // What wrk sends: Host only.
        _wrk = Headers(("Host", "127.0.0.1:8080"));

        // A typical browser/API request: 12 headers, ~900 bytes.
        var browser = new (string, string)[]
        {
            ("Host", "api.example.com"),
            ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
            ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
            ("Accept-Language", "en-US,en;q=0.9,fr;q=0.8"),
            ("Accept-Encoding", "gzip, deflate, br, zstd"),
            ("Cookie", "session=3f1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d; theme=dark; _ga=GA1.2.1234567890.1700000000; consent=yes"),
            ("Authorization", "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.signature"),
            ("Referer", "https://www.example.com/dashboard?tab=overview"),
            ("Cache-Control", "no-cache"),
            ("X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("Connection", "keep-alive"),
        };
        _browser = Headers(browser);

        // Same headers, the last one carrying a control character: the whole set is scanned before the rejection.
        var invalid = browser.ToArray();
        invalid[^1] = ("X-Bad", "value\u0001");
        _invalidLast = Headers(invalid);

        if (!RequestHeaderValidator.AreForwardable(_wrk) || !RequestHeaderValidator.AreForwardable(_browser) || RequestHeaderValidator.AreForwardable(_invalidLast))
        {
            throw new InvalidOperationException("unexpected validation result");
        }
    }

    [Benchmark(Description = "wrk-like: Host only")]
    public bool HostOnly() => RequestHeaderValidator.AreForwardable(_wrk);

    [Benchmark(Description = "browser-like: 12 headers")]
    public bool Browser() => RequestHeaderValidator.AreForwardable(_browser);

    [Benchmark(Description = "12 headers, last invalid")]
    public bool InvalidLast() => RequestHeaderValidator.AreForwardable(_invalidLast);

    private static IHeaderDictionary Headers(params (string Name, string Value)[] headers)
    {
        // The request's own header collection, as the gateway sees it (DefaultHttpContext, not a bare HeaderDictionary).
        var request = new DefaultHttpContext().Request;
        foreach (var (name, value) in headers)
        {
            request.Headers[name] = value;
        }

        return request.Headers;
    }
}
