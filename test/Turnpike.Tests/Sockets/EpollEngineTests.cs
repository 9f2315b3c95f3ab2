using System.Net;
using System.Net.Sockets;
using Turnpike.Sockets;

namespace Turnpike.Tests.Sockets;

/// <summary>Runs only where the epoll engine can (Linux).</summary>
public sealed class EpollFactAttribute : FactAttribute
{
    public EpollFactAttribute()
    {
        if (!EpollInterop.IsSupported)
        {
            Skip = "The epoll engine runs on Linux only.";
        }
    }
}

/// <summary>Runs only where the engine batches its receives in an io_uring (Linux 5.6+, not switched off).</summary>
public sealed class IoUringFactAttribute : FactAttribute
{
    public IoUringFactAttribute()
    {
        if (!IoUringBatch.IsSupported || !SocketEngine.UseIoUring)
        {
            Skip = "io_uring is not available to this process (or TURNPIKE_IO_URING=off).";
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EpollEngineCollection
{
    public const string Name = "Epoll engine: process-wide fd numbers and counts";
}

/// <summary>
/// The epoll engine against real loopback TCP sockets: every byte of a send larger than the socket buffers arrives in
/// order, a peer's FIN and RST are reported, a pending receive ends when cancelled from another thread, a closed
/// socket whose fd number is reused gets none of the new socket's events, sockets leave the engine's table, and an
/// upstream answer does not queue behind every client's request.
/// </summary>
/// <remarks>Alone in its collection: two tests look at process-wide state (which fd number the kernel hands out next,
/// the number of open fds and registered sockets), which tests running in parallel would change.</remarks>
[Collection(EpollEngineCollection.Name)]
public sealed class EpollEngineTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly Socket _listener;

    public EpollEngineTests()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
    }

    public void Dispose() => _listener.Dispose();

    [EpollFact]
    public async Task PartialWritesAgainstASlowReaderDeliverEveryByteInOrder()
    {
        var (mine, peer) = Pair();
        mine.SendBufferSize = 16 * 1024;
        peer.ReceiveBufferSize = 16 * 1024;
        var channel = EpollChannel.Attach(mine);
        try
        {
            var data = new byte[8 * 1024 * 1024];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(i * 7 + (i >> 11));
            }

            var send = channel.SendAsync(data, CancellationToken.None).AsTask();

            // Nobody reads yet: the kernel buffers fill, a send comes up short and the rest waits for EPOLLOUT.
            Assert.False(send.IsCompleted);

            var received = new byte[data.Length];
            var total = 0;
            var chunk = new byte[1000];
            while (total < data.Length)
            {
                var n = peer.Receive(chunk);
                Assert.True(n > 0, "the peer saw the end of the stream before every byte arrived");
                chunk.AsSpan(0, n).CopyTo(received.AsSpan(total));
                total += n;
            }

            await send.WaitAsync(Patience);
            Assert.True(data.AsSpan().SequenceEqual(received));
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task APeerFinEndsThePendingReceiveWithEndOfStream()
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            var buffer = new byte[64];
            peer.Send("abc"u8);
            Assert.Equal(3, await channel.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(Patience));

            var receive = channel.ReceiveAsync(buffer, CancellationToken.None).AsTask();
            Assert.False(receive.IsCompleted);
            peer.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await receive.WaitAsync(Patience));
            Assert.True(channel.Socket.PeerClosed);
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task BytesAndFinInOneEdgeAreBothDelivered()
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            // The bytes and the FIN arrive before anyone receives: one edge for both. A short receive must not be
            // taken for "drained" (nothing would ever wake the next receive).
            peer.Send("hello"u8);
            peer.Shutdown(SocketShutdown.Send);
            await WaitUntil(() => channel.Socket.PeerClosed);
            var buffer = new byte[64];
            Assert.Equal(5, await channel.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(Patience));
            Assert.Equal(0, await channel.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(Patience));
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task APeerResetFailsThePendingReceive()
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            var receive = channel.ReceiveAsync(new byte[64], CancellationToken.None).AsTask();
            Assert.False(receive.IsCompleted);
            peer.LingerState = new LingerOption(true, 0);
            peer.Close(); // RST
            var error = await Assert.ThrowsAsync<SocketException>(() => receive.WaitAsync(Patience));
            Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task CancelFromAnotherThreadEndsAPendingReceiveAndTheNextOneStillWorks()
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            using var cts = new CancellationTokenSource();
            var buffer = new byte[64];
            var receive = channel.ReceiveAsync(buffer, cts.Token).AsTask();
            Assert.False(receive.IsCompleted);
            await Task.Run(cts.Cancel);
            var canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(Patience));
            Assert.Equal(cts.Token, canceled.CancellationToken);

            // The socket is untouched: the next receive gets the next bytes.
            var next = channel.ReceiveAsync(buffer, CancellationToken.None).AsTask();
            peer.Send("x"u8);
            Assert.Equal(1, await next.WaitAsync(Patience));
            Assert.Equal((byte)'x', buffer[0]);
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task AClosedSocketGetsNoEventsOfTheSocketThatReusesItsFdNumber()
    {
        var (first, firstPeer) = Pair();
        var firstSocket = SocketEngine.Register(first);
        var old = new CountingReceiver();
        firstSocket.SetReceiver(old);
        Assert.Equal(EpollSocket.Pending, firstSocket.Receive(new byte[64]));
        var fd = firstSocket.Fd;

        first.Dispose();
        firstSocket.Close();
        firstPeer.Dispose();
        Assert.Equal(1, old.Count); // the pending receive ended as aborted
        Assert.Equal(-EpollInterop.ECanceled, old.Last);

        // New sockets take the lowest free fd numbers: one of the next ones gets the closed socket's number (other tests
        // open files meanwhile, so try a few pairs).
        var spare = new List<Socket>();
        Socket? second = null;
        Socket? secondPeer = null;
        for (var i = 0; i < 50 && second is null; i++)
        {
            var (a, b) = Pair();
            if (a.SafeHandle.DangerousGetHandle() == fd)
            {
                (second, secondPeer) = (a, b);
            }
            else if (b.SafeHandle.DangerousGetHandle() == fd)
            {
                (second, secondPeer) = (b, a);
            }
            else
            {
                spare.Add(a);
                spare.Add(b);
            }
        }

        spare.ForEach(s => s.Dispose());
        Assert.True(second is not null && secondPeer is not null, "the fd number was not reused");
        var channel = EpollChannel.Attach(second);
        try
        {
            var buffer = new byte[64];
            var receive = channel.ReceiveAsync(buffer, CancellationToken.None).AsTask();
            secondPeer.Send("new"u8);
            Assert.Equal(3, await receive.WaitAsync(Patience));
            secondPeer.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await channel.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(Patience));

            // The old socket saw none of it, and stays closed.
            Assert.Equal(1, old.Count);
            Assert.False(firstSocket.PeerClosed);
            Assert.Equal(-EpollInterop.ECanceled, firstSocket.Receive(new byte[64]));
        }
        finally
        {
            Close(channel, secondPeer);
        }
    }

    [EpollFact]
    public async Task AThousandSequentialConnectionsLeakNothing()
    {
        var buffer = new byte[16];
        // Warm up (the engine threads, the listener's queue), then measure.
        await OneConnection(buffer);
        var registeredBefore = SocketEngine.RegisteredSockets;
        var fdsBefore = Directory.GetFiles("/proc/self/fd").Length;
        for (var i = 0; i < 1000; i++)
        {
            await OneConnection(buffer);
        }

        // Sockets of other tests running meanwhile may come and go: allow a few.
        Assert.InRange(SocketEngine.RegisteredSockets - registeredBefore, -8, 8);
        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length - fdsBefore, -32, 32);
    }

    private async Task OneConnection(byte[] buffer)
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            peer.Send("ping"u8);
            Assert.Equal(4, await channel.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(Patience));
            await channel.SendAsync("pong"u8.ToArray(), CancellationToken.None);
            Assert.Equal(4, peer.Receive(buffer));
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task ConnectReportsRefusedAndConnectsToAListener()
    {
        var refusedPort = FreePort();
        using (var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var error = await Assert.ThrowsAsync<SocketException>(async () =>
                await EpollChannel.ConnectAsync(refused, new IPEndPoint(IPAddress.Loopback, refusedPort), null, CancellationToken.None));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var channel = await EpollChannel.ConnectAsync(socket, (IPEndPoint)_listener.LocalEndPoint!, null, CancellationToken.None).AsTask().WaitAsync(Patience);
        using var peer = _listener.Accept();
        try
        {
            await channel.SendAsync("hi"u8.ToArray(), CancellationToken.None);
            var buffer = new byte[8];
            Assert.Equal(2, peer.Receive(buffer));
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [EpollFact]
    public async Task AnUpstreamAnswerWaitsForAtMostOneBatchOfClientEvents()
    {
        // An engine thread of the test's own, so that no other test's sockets share its sets.
        var thread = new EpollThread(99);
        var order = new List<string>();
        using var gate = new ManualResetEventSlim();
        var pairs = new List<(EpollSocket Socket, Socket Peer)>();
        EpollSocket Add(string name, bool upstream, ManualResetEventSlim? wait = null)
        {
            var (mine, peer) = Pair();
            var socket = new EpollSocket(mine, thread);
            socket.SetReceiver(new OrderReceiver(name, order, wait));
            thread.Add(socket, upstream);
            Assert.Equal(EpollSocket.Pending, socket.Receive(new byte[16]));
            pairs.Add((socket, peer));
            return socket;
        }

        try
        {
            Add("gate", upstream: false, gate);
            var clients = EpollThread.ClientBatch + 8;
            for (var i = 0; i < clients; i++)
            {
                Add($"client {i}", upstream: false);
            }

            Add("upstream", upstream: true);

            // The engine thread stops in the gate's completion; meanwhile every client's request comes, then the upstream's
            // answer: the last in epoll's ready list.
            pairs[0].Peer.Send("g"u8);
            await WaitUntil(() => { lock (order) { return order.Count == 1; } });
            for (var i = 1; i < pairs.Count; i++)
            {
                pairs[i].Peer.Send("x"u8);
            }

            gate.Set();
            await WaitUntil(() => { lock (order) { return order.Count == pairs.Count; } });

            // With one set it came after all of them; now after one batch at most.
            List<string> seen;
            lock (order)
            {
                seen = [.. order];
            }

            var answer = seen.IndexOf("upstream");
            var clientsBefore = seen.Take(answer).Count(name => name.StartsWith("client", StringComparison.Ordinal));
            Assert.True(clientsBefore <= EpollThread.ClientBatch, $"{clientsBefore} client events were served before the upstream answer: {string.Join(", ", seen)}");
        }
        finally
        {
            gate.Set();
            foreach (var (socket, peer) in pairs)
            {
                socket.Socket.Dispose();
                socket.Close();
                peer.Dispose();
            }
        }
    }

    [IoUringFact]
    public async Task AZeroByteWaitHandsWhatTheBatchReadToTheNextReceivesInOrder()
    {
        var sent = new byte[100];
        for (var i = 0; i < sent.Length; i++)
        {
            sent[i] = (byte)(i * 3);
        }

        var (channel, peer) = await ZeroByteWaitAfter(peer => peer.Send(sent));
        try
        {
            // The bytes are already here: small receives take them in order, then nothing is left (no edge came since).
            var received = new List<byte>();
            var small = new byte[7];
            int n;
            while ((n = channel.Socket.TryReceive(small)) > 0)
            {
                received.AddRange(small.AsSpan(0, n).ToArray());
            }

            Assert.Equal(EpollSocket.Pending, n);
            Assert.Equal(sent, received.ToArray());
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [IoUringFact]
    public async Task AZeroByteWaitKeepsAResetForTheNextReceive()
    {
        // RST: the batch's recv is the one that gets ECONNRESET, and the kernel reports it once.
        var (channel, peer) = await ZeroByteWaitAfter(peer =>
        {
            peer.LingerState = new LingerOption(true, 0);
            peer.Close();
        });
        try
        {
            Assert.Equal(-104, channel.Socket.TryReceive(new byte[64])); // ECONNRESET, not a clean end of stream
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [IoUringFact]
    public async Task AZeroByteWaitKeepsTheEndOfStreamForTheNextReceive()
    {
        var (channel, peer) = await ZeroByteWaitAfter(peer =>
        {
            peer.Send("last"u8);
            peer.Shutdown(SocketShutdown.Send);
        });
        try
        {
            var buffer = new byte[64];
            Assert.Equal(4, channel.Socket.TryReceive(buffer));
            Assert.Equal("last"u8.ToArray(), buffer[..4]);
            Assert.Equal(0, await channel.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(Patience));
        }
        finally
        {
            Close(channel, peer);
        }
    }

    [IoUringFact]
    public async Task AWaitingReceiveIsFilledByTheBatch()
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            var batch = await BatchOf(channel);
            var buffer = new byte[64];
            for (var round = 0; round < 3; round++)
            {
                var before = batch.Completed;
                var receive = channel.ReceiveAsync(buffer, CancellationToken.None).AsTask();
                Assert.False(receive.IsCompleted);
                peer.Send([(byte)'a', (byte)('0' + round), (byte)'z']);
                Assert.Equal(3, await receive.WaitAsync(Patience));
                Assert.Equal(new[] { (byte)'a', (byte)('0' + round), (byte)'z' }, buffer[..3]);
                Assert.True(batch.Completed > before, "the receive did not go through the batch");
            }
        }
        finally
        {
            Close(channel, peer);
        }
    }

    /// <summary>
    /// A fresh channel with a zero-byte wait parked on it; <paramref name="peerAction"/> acts on the peer, and this
    /// returns once the wait ended (readable) with its receive completed by the batch. The caller closes both.
    /// </summary>
    private async Task<(EpollChannel Channel, Socket Peer)> ZeroByteWaitAfter(Action<Socket> peerAction)
    {
        var (mine, peer) = Pair();
        var channel = EpollChannel.Attach(mine);
        try
        {
            var batch = await BatchOf(channel);
            var before = batch.Completed;
            Assert.Equal(EpollSocket.Pending, channel.Socket.TryReceive(new byte[8])); // drained: the wait below parks
            var wait = channel.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None).AsTask();
            Assert.False(wait.IsCompleted);
            peerAction(peer);
            Assert.Equal(0, await wait.WaitAsync(Patience));
            Assert.True(batch.Completed > before, "the wait's receive did not go through the batch");
            return (channel, peer);
        }
        catch
        {
            Close(channel, peer);
            throw;
        }
    }

    private static async Task<IoUringBatch> BatchOf(EpollChannel channel)
    {
        await WaitUntil(() => channel.Socket.Thread.Batch is not null);
        return channel.Socket.Thread.Batch!;
    }

    private (Socket Mine, Socket Peer) Pair()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(_listener.LocalEndPoint!);
        var accepted = _listener.Accept();
        return (accepted, client);
    }

    private static void Close(EpollChannel channel, Socket peer)
    {
        channel.Socket.Socket.Dispose();
        channel.Close();
        peer.Dispose();
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(5);
        }
    }

    private sealed class OrderReceiver(string name, List<string> order, ManualResetEventSlim? wait) : IEpollReceiveCompletion
    {
        public void OnReceiveCompleted(int result)
        {
            lock (order)
            {
                order.Add(name);
            }

            wait?.Wait(Patience);
        }
    }

    private sealed class CountingReceiver : IEpollReceiveCompletion
    {
        public int Count;
        public int Last;

        public void OnReceiveCompleted(int result)
        {
            Last = result;
            Interlocked.Increment(ref Count);
        }
    }
}

public sealed class SocketEngineSettingTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("epoll")]
    [InlineData("EPOLL")]
    public void EpollIsTheDefaultWhereItIsSupported(string? setting)
    {
        Assert.Equal(EpollInterop.IsSupported, SocketEngine.ChooseEpoll(setting, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void DotnetSwitchesTheEpollEngineOff()
    {
        Assert.False(SocketEngine.ChooseEpoll("dotnet", out var error));
        Assert.Null(error);
    }

    [Fact]
    public void AnythingElseIsAClearError()
    {
        SocketEngine.ChooseEpoll("io_uring", out var error);
        Assert.Equal("The environment variable TURNPIKE_SOCKET_ENGINE is 'io_uring': expected 'epoll' (the default on Linux) or 'dotnet'.", error);
    }
}

public sealed class IoUringSettingTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("on")]
    [InlineData("ON")]
    public void BatchingIsOnByDefault(string? setting)
    {
        Assert.True(SocketEngine.ChooseIoUring(setting, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void OffSwitchesItOff()
    {
        Assert.False(SocketEngine.ChooseIoUring("Off", out var error));
        Assert.Null(error);
    }

    [Fact]
    public void AnythingElseIsAClearError()
    {
        SocketEngine.ChooseIoUring("sometimes", out var error);
        Assert.Equal("The environment variable TURNPIKE_IO_URING is 'sometimes': expected 'on' (the default: where the kernel allows it) or 'off'.", error);
    }
}
