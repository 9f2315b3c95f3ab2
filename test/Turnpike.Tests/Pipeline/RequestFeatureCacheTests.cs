using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.Forwarding;
using Turnpike.Http1;
using Turnpike.Model;
using Turnpike.Pipeline;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Turnpike.Tests.Pipeline;

public sealed class RequestFeatureCacheTests
{
    private static readonly RouteModel Route = BuildRoute();

    [Fact]
    public void AContextWithASlotKeepsItsFeatureThereAndEachRequestStartsItOver()
    {
        var cache = new RequestFeatureCache();
        var features = new SlotFeatures();
        var context = new DefaultHttpContext(features);

        var first = cache.Rent(context, Route);
        first.Attempts = 3;
        first.Error = GatewayErrorCode.NoHealthyDestination;
        var second = cache.Rent(context, Route);

        Assert.Same(first, features.ContextState);
        Assert.Same(first, second);
        Assert.Equal(0, second.Attempts);
        Assert.Equal(GatewayErrorCode.None, second.Error);
        Assert.Same(Route, second.Route);
    }

    [Fact]
    public void ContextsWithoutASlotEachGetTheirOwnFeature()
    {
        var cache = new RequestFeatureCache();
        var one = new DefaultHttpContext();
        var other = new DefaultHttpContext();

        var feature = cache.Rent(one, Route);

        Assert.Same(feature, cache.Rent(one, Route));
        Assert.NotSame(feature, cache.Rent(other, Route));
    }

    private static RouteModel BuildRoute()
    {
        var result = YamlConfigReader.Read("listeners:\n  p: { port: 8080 }\nroutes:\n  r:\n    match: { path: \"/{**rest}\" }\n    cluster: c\nclusters:\n  c:\n    destinations:\n      d: http://127.0.0.1:1\n", "f.yaml");
        Assert.Empty(result.Errors);
        var services = new ServiceCollection().AddLogging().AddMetrics().AddTurnpikeForwarding().BuildServiceProvider();
        var state = new GatewayState(new RuntimeModelBuilder(services.GetRequiredService<ITransformBuilder>(), new FakeTimeProvider()), ConfigSource.Embedded(), NullLogger<GatewayState>.Instance);
        Assert.Empty(state.Initialize(result.Config));
        return state.Current.Routes.All[0];
    }

    private sealed class SlotFeatures : FeatureCollection, IContextStateSlot
    {
        public object? ContextState { get; set; }
    }
}
