using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Turnpike.Http1;

namespace Turnpike.Tests.Http1.Server;

/// <summary>The raw connection's remote address as text (<see cref="IRemoteAddressText"/>): formatted once, and only for its own connection feature.</summary>
public sealed class RawListenerRemoteAddressTests
{
    [Fact]
    public async Task TheTextIsTheAddressFormattedOncePerConnection()
    {
        var seen = new List<(string? Text, string? Address)>();
        await using var listener = TestRawListener.Start("address", context =>
        {
            seen.Add((((IRemoteAddressText)context.Features).RemoteAddressText, context.Connection.RemoteIpAddress?.ToString()));
            return Task.CompletedTask;
        });

        using var client = await TestRawListener.ConnectAsync(listener);
        await TestRawListener.ExchangeHeadAsync(client, "/a");
        await TestRawListener.ExchangeHeadAsync(client, "/b");

        Assert.Equal("127.0.0.1", seen[0].Text);
        Assert.Equal(seen[0].Address, seen[0].Text);
        Assert.Same(seen[0].Text, seen[1].Text);
    }

    [Fact]
    public async Task AConnectionFeatureSetByAMiddlewareHidesTheText()
    {
        string? text = "unset";
        await using var listener = TestRawListener.Start("address", context =>
        {
            context.Features.Set<IHttpConnectionFeature>(new HttpConnectionFeature { RemoteIpAddress = System.Net.IPAddress.Parse("192.0.2.7") });
            text = ((IRemoteAddressText)context.Features).RemoteAddressText;
            return Task.CompletedTask;
        });

        using var client = await TestRawListener.ConnectAsync(listener);
        await TestRawListener.ExchangeHeadAsync(client, "/");

        Assert.Null(text);
    }
}
