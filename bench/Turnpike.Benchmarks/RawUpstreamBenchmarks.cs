using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Http1.Client;
using Turnpike.Model;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Turnpike.Benchmarks;

/// <summary>
/// One proxied small GET through the send-upstream seam (issue #8): the raw HTTP/1.1 engine vs the YARP engine, each
/// on a keep-alive connection to an in-process raw-socket upstream on 127.0.0.1 that answers what nginx answers in
/// <c>bench/e2e.sh</c> (200, 12-byte body). Routes without transforms (YARP's default transformer: Host,
/// X-Forwarded-*; the raw engine's direct path), plus one route with a transform (the raw engine's transformer
/// path). The <see cref="HttpContext"/> is reused, so the Allocated column is the sender's own cost.
/// </summary>
[MemoryDiagnoser]
public class RawUpstreamBenchmarks
{
    private static readonly byte[] Answer = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 30 Nov 2026 14:00:00 GMT\r\n" +
        "Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello world!");

    private readonly CancellationTokenSource _stop = new();
    private Socket _listener = null!;
    private ServiceProvider _services = null!;
    private IUpstreamSender _sender = null!;
    private RouteModel _raw = null!;
    private RouteModel _yarp = null!;
    private RouteModel _rawTransformed = null!;
    private DestinationModel _rawDestination = null!;
    private DestinationModel _yarpDestination = null!;
    private DefaultHttpContext _context = null!;

    [GlobalSetup]
    public void Setup()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _ = AcceptAsync();
        var port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        var yaml = $"""
            listeners: {"{"} l: {"{"} port: 0 {"}"} {"}"}
            admin: {"{"} enabled: false {"}"}
            routes:
              raw: {"{"} match: {"{"} pathPrefix: /r {"}"}, cluster: raw {"}"}
              yarp: {"{"} match: {"{"} pathPrefix: /y {"}"}, cluster: yarp {"}"}
              rawTransformed: {"{"} match: {"{"} pathPrefix: /t {"}"}, cluster: raw, transforms: [{"{"} requestHeader: x-via, set: turnpike {"}"}] {"}"}
            clusters:
              raw: {"{"} destinations: {"{"} d: 'http://127.0.0.1:{port}' {"}"}, http: {"{"} engine: raw {"}"} {"}"}
              yarp: {"{"} destinations: {"{"} d: 'http://127.0.0.1:{port}' {"}"}, http: {"{"} engine: yarp {"}"} {"}"}
            """;
        var result = YamlConfigReader.Read(yaml, "bench.yaml");
        if (!result.IsValid)
        {
            throw new InvalidOperationException(string.Join('\n', result.Errors));
        }

        _services = new ServiceCollection().AddLogging().AddTurnpikeForwarding().BuildServiceProvider();
        var snapshot = new RuntimeModelBuilder(_services.GetRequiredService<ITransformBuilder>()).Build(result.Config!, 1, "bench.yaml");
        _raw = snapshot.Routes.All.Single(r => r.Id == "raw");
        _yarp = snapshot.Routes.All.Single(r => r.Id == "yarp");
        _rawTransformed = snapshot.Routes.All.Single(r => r.Id == "rawTransformed");
        _rawDestination = _raw.Cluster.Destinations[0];
        _yarpDestination = _yarp.Cluster.Destinations[0];
        _sender = new Http1UpstreamSender(new YarpUpstreamSender(_services.GetRequiredService<IHttpForwarder>()));
        _context = new DefaultHttpContext();
        _context.Request.Method = "GET";
        _context.Request.Scheme = "http";
        _context.Request.Host = new HostString("api.example.com");
        _context.Request.Path = "/r/api/items/42";
        _context.Request.Protocol = "HTTP/1.1";
        _context.Request.Headers.Accept = "application/json";
        _context.Request.Headers.UserAgent = "bench/1.0";
        _context.Connection.RemoteIpAddress = IPAddress.Loopback;
        if (Raw().AsTask().GetAwaiter().GetResult() != 200 || Yarp().AsTask().GetAwaiter().GetResult() != 200 || RawTransformed().AsTask().GetAwaiter().GetResult() != 200)
        {
            throw new InvalidOperationException("the upstream did not answer 200");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        _listener.Dispose();
        _raw.Cluster.RawPool?.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, Description = "YARP engine: IHttpForwarder + SocketsHttpHandler")]
    public ValueTask<int> Yarp() => SendAsync(_yarp, _yarpDestination);

    [Benchmark(Description = "raw engine: Http1UpstreamSender")]
    public ValueTask<int> Raw() => SendAsync(_raw, _rawDestination);

    [Benchmark(Description = "raw engine, transformer path (a route with one transform)")]
    public ValueTask<int> RawTransformed() => SendAsync(_rawTransformed, _rawDestination);

    // Pooled, so the benchmark's own await adds no allocation to the senders' figures.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> SendAsync(RouteModel route, DestinationModel destination)
    {
        var response = _context.Response;
        response.StatusCode = 200;
        response.Headers.Clear();
        var result = await _sender.SendAsync(_context, route, destination, CancellationToken.None, started: 0).ConfigureAwait(false);
        return result.Outcome == UpstreamOutcome.Success ? result.Status : -1;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    /// <summary>One answer per request head (the senders send one request at a time, each head in one segment).</summary>
    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[8192];
        using (socket)
        {
            try
            {
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return;
                    }

                    var heads = 0;
                    var span = buffer.AsSpan(0, n);
                    int at;
                    while ((at = span.IndexOf("\r\n\r\n"u8)) >= 0)
                    {
                        heads++;
                        span = span[(at + 4)..];
                    }

                    for (var i = 0; i < heads; i++)
                    {
                        await socket.SendAsync(Answer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception)
            {
            }
        }
    }
}
