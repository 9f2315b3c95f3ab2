using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Logging;
using Turnpike.Model;
using Turnpike.Pipeline;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Turnpike.Tests.Pipeline;

/// <summary>The handler's attempt loop with a scripted upstream and virtual time.</summary>
public sealed class ProxyHandlerRetryTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 4, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Answers attempts from a script: a status (run through the route's transformer as YARP would) or a failure.</summary>
    private sealed class ScriptedSender(params object[] script) : IUpstreamSender
    {
        public List<string> Destinations { get; } = [];

        public ValueTask<UpstreamResult> SendAsync(HttpContext context, RouteModel route, DestinationModel destination, CancellationToken cancellationToken, long started)
        {
            var step = script[Math.Min(Destinations.Count, script.Length - 1)];
            Destinations.Add(destination.Id);
            if (step is UpstreamOutcome outcome)
            {
                var error = outcome switch
                {
                    UpstreamOutcome.Timeout => GatewayErrorCode.UpstreamTimeout,
                    UpstreamOutcome.ConnectFailed => GatewayErrorCode.ConnectionRefused,
                    _ => GatewayErrorCode.UpstreamReset,
                };
                context.Response.StatusCode = 502;
                return new ValueTask<UpstreamResult>(new UpstreamResult(outcome, error, null));
            }

            var (status, retryAfter) = step is (int s, string r) ? (s, r) : ((int)step, null);
            context.Response.StatusCode = status;
            using var response = new HttpResponseMessage((HttpStatusCode)status);
            if (retryAfter is not null)
            {
                response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
            }

            var copyBody = route.Transformer.TransformResponseAsync(context, response, cancellationToken);
            Assert.True(copyBody.IsCompletedSuccessfully);
            return new ValueTask<UpstreamResult>(YarpUpstreamSender.Classify(context, ForwarderError.None, cancellationToken));
        }
    }

    /// <summary>The cheapest possible upstream: every attempt succeeds at once.</summary>
    private sealed class InstantSender : IUpstreamSender
    {
        public ValueTask<UpstreamResult> SendAsync(HttpContext context, RouteModel route, DestinationModel destination, CancellationToken cancellationToken, long started) =>
            new(UpstreamResult.Success(200));
    }

    private ProxyHandler Handler(string routeExtra, IUpstreamSender sender, string clusterExtra = "", int destinations = 2)
    {
        var yaml = "listeners: { l: { port: 0 } }\nroutes:\n  r:\n    match: { path: \"/{**rest}\" }\n    cluster: c\n"
            + string.Join("\n", routeExtra.Split('\n').Select(l => "    " + l)) + "\n"
            + "clusters:\n  c:\n    destinations:\n"
            + string.Join("\n", Enumerable.Range(1, destinations).Select(i => $"      d{i}: http://127.0.0.1:{i}")) + "\n"
            + string.Join("\n", clusterExtra.Split('\n').Select(l => "    " + l)) + "\n";
        var result = YamlConfigReader.Read(yaml, "h.yaml");
        Assert.Empty(result.Errors);
        var services = new ServiceCollection().AddLogging().AddMetrics().AddTurnpikeForwarding().BuildServiceProvider();
        var builder = new RuntimeModelBuilder(services.GetRequiredService<ITransformBuilder>(), _time);
        var state = new GatewayState(builder, ConfigSource.Embedded(), NullLogger<GatewayState>.Instance);
        Assert.Empty(state.Initialize(result.Config));
        var accessLog = new AccessLog(new AccessLogConfig(), _time, NullLogger<AccessLog>.Instance);
        var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        return new ProxyHandler(state, sender, accessLog, _time, NullLogger<ProxyHandler>.Instance, new Turnpike.Observability.GatewayMetrics(meters), new Turnpike.Observability.UpstreamMetrics(meters));
    }

    private static DefaultHttpContext Request(string method = "GET")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = "/x";
        context.Request.Host = new HostString("example.com");
        return context;
    }

    private static GatewayRequestFeature Feature(HttpContext context) => (GatewayRequestFeature)context.Features.Get<IGatewayRequestFeature>()!;

    [Fact]
    public async Task HeldBackStatusIsRetriedOnAnotherDestinationAfterRetryAfter()
    {
        var sender = new ScriptedSender((429, "1"), 200);
        var handler = Handler("retry: { on: [429] }", sender);
        var context = Request();

        var running = handler.InvokeAsync(context);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(running.IsCompleted, "waits the whole Retry-After on the time provider");
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await running;

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal(2, Feature(context).Attempts);
        Assert.Equal(2, sender.Destinations.Distinct().Count());
        Assert.Equal(GatewayErrorCode.None, Feature(context).Error);
    }

    [Fact]
    public async Task RetryableFiveHundredsCountAsDestinationFailures()
    {
        var sender = new ScriptedSender(503, 200);
        var handler = Handler("retry: { backoff: { base: 1ms, max: 1ms } }", sender);
        var context = Request();
        var running = handler.InvokeAsync(context);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await running;

        Assert.Equal(200, context.Response.StatusCode);
        var cluster = Feature(context).Route!.Cluster;
        var failed = cluster.Destinations.Single(d => d.Id == sender.Destinations[0]);
        var served = cluster.Destinations.Single(d => d.Id == sender.Destinations[1]);
        Assert.Equal((1L, 1L), (failed.Requests, failed.Failures));
        Assert.Equal(0, served.Failures);
        Assert.All(cluster.Destinations, d => Assert.Equal(0, d.InFlight));
    }

    [Fact]
    public async Task LastAttemptIsPassedThrough()
    {
        var sender = new ScriptedSender(503);
        var handler = Handler("retry: { attempts: 3, backoff: { base: 1ms, max: 1ms } }", sender);
        var context = Request();
        var running = handler.InvokeAsync(context);
        for (var i = 0; i < 5 && !running.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Yield();
        }

        await running;
        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal(3, Feature(context).Attempts);
        Assert.Equal(3, sender.Destinations.Count);
        Assert.Equal(0, Assert.IsType<GatewayRetryFeature>(Feature(context)).RetryStatus);
        Assert.False(context.Response.Headers.ContainsKey(ErrorResponses.ReasonHeader));
    }

    [Theory]
    [InlineData("GET", 2)]
    [InlineData("DELETE", 2)]
    [InlineData("POST", 1)]
    [InlineData("PATCH", 1)]
    public async Task ResetIsRetriedOnlyForIdempotentMethods(string method, int attempts)
    {
        var sender = new ScriptedSender(UpstreamOutcome.UpstreamError, 200);
        var handler = Handler("retry: { on: [reset], backoff: { base: 1ms, max: 1ms } }", sender);
        var context = Request(method);
        var running = handler.InvokeAsync(context);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await running;
        Assert.Equal(attempts, sender.Destinations.Count);
        Assert.Equal(attempts == 2 ? 200 : 502, context.Response.StatusCode);
    }

    [Fact]
    public async Task SpentBudgetReturnsTheLastFailure()
    {
        var sender = new ScriptedSender(UpstreamOutcome.Timeout, 200);
        var handler = Handler("retry: { on: [timeout] }", sender, "retryBudget: { ratio: 0, minPerSecond: 0 }");
        var context = Request();
        await handler.InvokeAsync(context);
        Assert.Single(sender.Destinations);
        Assert.Equal(504, context.Response.StatusCode);
        Assert.Equal("upstream_timeout", context.Response.Headers[ErrorResponses.ReasonHeader]);
    }

    [Fact]
    public async Task WithoutARetryBlockOnlyConnectFailuresAreRetried()
    {
        var refused = new ScriptedSender(UpstreamOutcome.ConnectFailed, 200);
        var context = Request("POST");
        await Handler("order: 0", refused).InvokeAsync(context);
        Assert.Equal(2, refused.Destinations.Count);
        Assert.NotEqual(refused.Destinations[0], refused.Destinations[1]);
        Assert.Equal(200, context.Response.StatusCode);

        var unavailable = new ScriptedSender(503, 200);
        context = Request();
        await Handler("order: 0", unavailable).InvokeAsync(context);
        Assert.Single(unavailable.Destinations);
        Assert.Equal(503, context.Response.StatusCode);

        var timedOut = new ScriptedSender(UpstreamOutcome.Timeout, 200);
        context = Request();
        await Handler("order: 0", timedOut).InvokeAsync(context);
        Assert.Single(timedOut.Destinations);
        Assert.Equal(504, context.Response.StatusCode);
    }

    [Fact]
    public async Task ConnectFailuresNeedAnotherDestination()
    {
        var sender = new ScriptedSender(UpstreamOutcome.ConnectFailed, 200);
        var context = Request();
        await Handler("retry: { attempts: 3 }", sender, destinations: 1).InvokeAsync(context);
        Assert.Single(sender.Destinations);
        Assert.Equal(502, context.Response.StatusCode);
    }

    [Theory]
    [InlineData("order: 0", false)]
    [InlineData("retry: { attempts: 3, on: [502, 503, 504, timeout, reset] }", true)]
    public void FirstAttemptThatSucceedsAllocatesOnlyRetryState(string route, bool retries)
    {
        var handler = Handler(route, new InstantSender());
        var context = Request();
        for (var i = 0; i < 100; i++)
        {
            Assert.True(handler.InvokeAsync(context).IsCompletedSuccessfully);
        }

        const int requests = 1000;
        var perRequest = ThreadAllocations.PerCall(requests, () => _sink = handler.InvokeAsync(context));

        // What the request path cannot avoid, measured the same way: a retrying route's feature object (a route without
        // retries reuses its context's feature, see RequestFeatureCache), the header check (which allocates an
        // enumerator over DefaultHttpContext's headers; the raw listener's HeaderDictionary is enumerated without one)
        // and, in Debug builds only, the async state machine, which the compiler makes a class there (a struct, never
        // boxed on synchronous completion, in Release).
        var feature = retries ? ThreadAllocations.PerCall(requests, () => _sink = new GatewayRetryFeature()) : 0;
        var headers = ThreadAllocations.PerCall(requests, () => RequestHeaderValidator.AreForwardable(context.Request.Headers));
        var stateMachine = typeof(ProxyHandler).GetNestedTypes(System.Reflection.BindingFlags.NonPublic).Single(t => t.Name.Contains("<ForwardCoreAsync>", StringComparison.Ordinal));
        var machine = stateMachine.IsValueType ? 0 : ThreadAllocations.PerCall(requests, () => _sink = Activator.CreateInstance(stateMachine));
        Assert.Equal(feature + headers + machine, perRequest, 0.5);
    }

    [Fact]
    public async Task ReusedContextGetsAFreshFeature()
    {
        // Both destinations refuse the first request; the second request on the same context is answered.
        var handler = Handler("order: 0", new ScriptedSender(UpstreamOutcome.ConnectFailed, UpstreamOutcome.ConnectFailed, 200));
        var context = Request();
        await handler.InvokeAsync(context);
        var first = Feature(context);
        Assert.Equal(502, context.Response.StatusCode);
        Assert.NotEqual(GatewayErrorCode.None, first.Error);
        Assert.Equal(2, first.Attempts);
        Assert.Equal("d2", first.DestinationId);

        // As Kestrel and the raw listener do between two requests on one connection: features and response reset.
        context.Features.Set<IGatewayRequestFeature>(null);
        context.Response.StatusCode = 200;
        await handler.InvokeAsync(context);
        var second = Feature(context);
        Assert.Same(first, second); // the context's feature, reused ...
        Assert.Equal(GatewayErrorCode.None, second.Error); // ... and reset
        Assert.Null(second.ErrorReason);
        Assert.Equal(1, second.Attempts);
        Assert.Equal("d1", second.DestinationId);
        Assert.Equal(200, context.Response.StatusCode);
    }

    private object? _sink;
}
