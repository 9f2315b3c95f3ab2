using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>
/// The raw connection's feature collection across the requests of one keep-alive connection: its reused HttpContext
/// keeps the features it fetched, so whatever a request set must be gone for the next one, and only the options'
/// unversioned features may come and go without changing the Revision. Real sockets on 127.0.0.1.
/// </summary>
public sealed class RawListenerFeatureRevisionTests
{
    public interface IMarkerFeature
    {
    }

    private sealed class Marker : IMarkerFeature
    {
    }

    private sealed class OtherFeature
    {
    }

    [Fact]
    public async Task WhatARequestSetIsGoneForTheNextOneOnTheSameConnection()
    {
        var seen = new List<string>();
        await using var listener = Start(context =>
        {
            seen.Add($"items {context.Items.Count}, marker {context.Features.Get<IMarkerFeature>() is not null}, other {context.Features.Get<OtherFeature>() is not null}, query {context.Request.Query["q"]}");
            context.Features.Set<IMarkerFeature>(new Marker());
            context.Features.Set(new OtherFeature());
            context.Items["set by"] = context.Request.Path.Value; // last: the context caches the items feature at the current Revision
            return Task.CompletedTask;
        });

        using var client = await ConnectAsync(listener);
        await ExchangeAsync(client, "/first?q=1");
        await ExchangeAsync(client, "/second?q=2");
        await ExchangeAsync(client, "/third");

        Assert.Equal(
            [
                "items 0, marker False, other False, query 1",
                "items 0, marker False, other False, query 2",
                "items 0, marker False, other False, query ",
            ],
            seen);
    }

    [Fact]
    public async Task OnlyUnversionedFeaturesLeaveTheRevisionAlone()
    {
        var revisions = new List<(int Before, int AfterMarker, int AfterOther)>();
        await using var listener = Start(context =>
        {
            var before = context.Features.Revision;
            context.Features.Set<IMarkerFeature>(new Marker());
            var afterMarker = context.Features.Revision;
            context.Features.Set(new OtherFeature());
            revisions.Add((before, afterMarker, context.Features.Revision));
            return Task.CompletedTask;
        });

        using var client = await ConnectAsync(listener);
        await ExchangeAsync(client, "/a");
        await ExchangeAsync(client, "/b");

        Assert.All(revisions, r => Assert.Equal(r.Before, r.AfterMarker));
        Assert.All(revisions, r => Assert.NotEqual(r.AfterMarker, r.AfterOther));
        // The second request begins after a versioned set: its Revision differs from the one the first request ended with.
        Assert.NotEqual(revisions[0].AfterOther, revisions[1].Before);
    }

    [Fact]
    public async Task ARequestThatSetsOnlyUnversionedFeaturesKeepsTheRevisionForTheNext()
    {
        var revisions = new List<int>();
        await using var listener = Start(context =>
        {
            revisions.Add(context.Features.Revision);
            context.Features.Set<IMarkerFeature>(new Marker());
            return Task.CompletedTask;
        });

        using var client = await ConnectAsync(listener);
        await ExchangeAsync(client, "/a");
        await ExchangeAsync(client, "/b");
        await ExchangeAsync(client, "/c");

        Assert.Single(revisions.Distinct());
    }

    private static RawListener Start(RequestDelegate application) => TestRawListener.Start("revisions", application, [typeof(IMarkerFeature)]);

    private static Task<Socket> ConnectAsync(RawListener listener) => TestRawListener.ConnectAsync(listener);

    private static Task ExchangeAsync(Socket client, string target) => TestRawListener.ExchangeHeadAsync(client, target);

}
