using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Turnpike.Connections;

namespace Turnpike.Tests.Connections;

/// <summary>The connect callback against real loopback sockets (no timing involved).</summary>
public sealed class UpstreamConnectorTests : IDisposable
{
    private readonly ScriptedResolver _resolver = new();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public UpstreamConnectorTests() => _listener.Start();

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Dispose() => _listener.Dispose();

    private UpstreamConnector CreateConnector(bool noDelay = true) =>
        new(new DnsCache(_resolver, TimeSpan.FromMinutes(1), new FakeTimeProvider(), NullLogger.Instance), noDelay, NullLogger.Instance);

    /// <summary>A loopback port that refuses connections while the returned socket is held (bound, not listening).</summary>
    private static (int Port, Socket Hold) RefusingPort(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        return (((IPEndPoint)socket.LocalEndPoint!).Port, socket);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConnectsThroughTheCacheWithTheConfiguredNoDelay(bool noDelay)
    {
        _resolver.Set("svc.test", IPAddress.Loopback);
        var connector = CreateConnector(noDelay);

        await using var stream = Assert.IsType<NetworkStream>(await connector.ConnectAsync("svc.test", Port, CancellationToken.None));
        using var accepted = await _listener.AcceptSocketAsync();

        Assert.Equal(noDelay, stream.Socket.NoDelay);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, Port), stream.Socket.RemoteEndPoint);
        Assert.Equal(1, _resolver.Lookups);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task IpLiteralsBypassTheCache(string host)
    {
        var connector = CreateConnector(noDelay: false);
        await using var stream = Assert.IsType<NetworkStream>(await connector.ConnectAsync(host, Port, CancellationToken.None));
        using var accepted = await _listener.AcceptSocketAsync();
        Assert.False(stream.Socket.NoDelay);
        Assert.Equal(0, _resolver.Lookups);
    }

    [Fact]
    public async Task BracketedIpv6LiteralIsAnAddressToo()
    {
        var (port, hold) = RefusingPort(IPAddress.IPv6Loopback);
        using var _ = hold;
        var connector = CreateConnector();
        // Refused rather than "host not found": it was taken as an address, not looked up.
        var error = await Assert.ThrowsAsync<SocketException>(() => connector.ConnectAsync("[::1]", port, CancellationToken.None).AsTask());
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.Equal(0, _resolver.Lookups);
    }

    [Fact]
    public async Task FallsBackToTheNextAddressWhenOneRefuses()
    {
        // The host has two addresses; only 127.0.0.1 listens on the port, [::1] refuses. Whichever address the
        // rotation starts with, every connect must succeed.
        _resolver.Set("svc.test", IPAddress.IPv6Loopback, IPAddress.Loopback);
        var connector = CreateConnector();
        for (var i = 0; i < 4; i++)
        {
            await using var stream = Assert.IsType<NetworkStream>(await connector.ConnectAsync("svc.test", Port, CancellationToken.None));
            using var accepted = await _listener.AcceptSocketAsync();
            Assert.Equal(IPAddress.Loopback, ((IPEndPoint)stream.Socket.RemoteEndPoint!).Address);
        }

        Assert.Equal(1, _resolver.Lookups);
    }

    [Fact]
    public async Task WhenEveryAddressRefusesTheSocketErrorIsThrown()
    {
        var (port, hold) = RefusingPort(IPAddress.Loopback);
        using var _ = hold;
        _resolver.Set("svc.test", IPAddress.Loopback, IPAddress.Loopback);
        var connector = CreateConnector();

        var error = await Assert.ThrowsAsync<SocketException>(() => connector.ConnectAsync("svc.test", port, CancellationToken.None).AsTask());
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Fact]
    public async Task UnresolvableHostIsHostNotFound()
    {
        var connector = CreateConnector();
        var error = await Assert.ThrowsAsync<SocketException>(() => connector.ConnectAsync("nowhere.test", Port, CancellationToken.None).AsTask());
        Assert.Equal(SocketError.HostNotFound, error.SocketErrorCode);
    }

    [Fact]
    public async Task CancellationWhileResolvingThrowsForTheCallersToken()
    {
        _resolver.Set("svc.test", IPAddress.Loopback);
        _resolver.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connector = CreateConnector();
        using var cts = new CancellationTokenSource();

        var connect = connector.ConnectAsync("svc.test", Port, cts.Token).AsTask();
        await cts.CancelAsync();

        // SocketsHttpHandler recognises its connect-timeout token on the exception and reports a connect timeout.
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect);
        Assert.Equal(cts.Token, error.CancellationToken);
    }

    [Fact]
    public async Task AlreadyCanceledConnectThrowsForTheCallersToken()
    {
        var connector = CreateConnector();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connector.ConnectAsync("127.0.0.1", Port, cts.Token).AsTask());
        Assert.Equal(cts.Token, error.CancellationToken);
    }
}
