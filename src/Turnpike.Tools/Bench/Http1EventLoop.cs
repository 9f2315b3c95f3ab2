using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Turnpike.Tools.Bench;

/// <summary>
/// The HTTP/1.1 client on Linux: one thread per <c>--threads</c> running its own epoll loop over its connections, as
/// wrk does. Each connection writes its pre-serialised request with one non-blocking send and reads the answer when
/// epoll says it is readable, with one recv, into its pooled buffer (both straight to libc on the descriptor, which
/// only this thread uses and closes); nothing is allocated, and no Task, timer or
/// thread hop is involved per request. The loop sleeps in epoll_pwait2 until the next event or the next due send
/// (<see cref="PaceSchedule"/>: the open model's pacing), at most 10 ms, and checks stop and timeouts then.
/// Errors are counted by kind as in <see cref="Http1Connection"/> (the portable client, used elsewhere).
/// </summary>
internal sealed unsafe class Http1EventLoop
{
    private const int BufferSize = 64 * 1024;
    private const long MaxSleepNanos = 10_000_000;

    private readonly Conn[] _conns;
    private readonly EndPoint _endPoint;
    private readonly Http1RequestTemplate[] _requests;
    private readonly BenchShard _shard;
    private readonly RunControl _control;
    private readonly PaceSchedule _schedule;
    private readonly bool[] _idle;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _epoll = -1;

    public Http1EventLoop(int[] slots, int totalSlots, EndPoint endPoint, Http1RequestTemplate[] requests, BenchShard shard, RunControl control, double? rate)
    {
        _endPoint = endPoint;
        _requests = requests;
        _shard = shard;
        _control = control;
        _schedule = new PaceSchedule(control.Start, Stopwatch.Frequency, rate, totalSlots, slots);
        _conns = new Conn[slots.Length];
        _idle = new bool[slots.Length];
        for (var i = 0; i < slots.Length; i++)
        {
            _conns[i] = new Conn { Next = slots[i] % requests.Length };
        }
    }

    public Task Completion => _done.Task;

    public void Start()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "turnpike bench loop" };
        thread.Start();
    }

    private enum ConnState
    {
        Idle,
        Connecting,
        InFlight,
        Done,
    }

    private sealed class Conn
    {
        public Socket? Socket;
        public int Fd = -1;
        public byte[]? Buffer;
        public int Start;
        public int End;
        public long Received;
        public Http1ResponseParser Parser;
        public ConnState State;
        public Http1RequestTemplate? Request;
        public int Next;
        public long Sent;
        public long MeasureFrom;
    }

    private void Run()
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(Epoll.EventSize * Math.Max(_conns.Length, 1)));
        try
        {
            _epoll = Epoll.Create();
            foreach (var conn in _conns)
            {
                conn.Buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            }

            Loop(events);
            _done.TrySetResult();
        }
        catch (Exception ex)
        {
            _done.TrySetException(ex);
        }
        finally
        {
            for (var i = 0; i < _conns.Length; i++)
            {
                CloseSocket(_conns[i]);
                if (_conns[i].Buffer is { } buffer)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    _conns[i].Buffer = null;
                }
            }

            if (_epoll >= 0)
            {
                Epoll.CloseFd(_epoll);
            }

            NativeMemory.Free(events);
        }
    }

    private void Loop(byte* events)
    {
        var timeoutTicks = _control.TimeoutTicks;
        while (!_control.IsStopping)
        {
            var now = Stopwatch.GetTimestamp();
            var active = false;
            for (var i = 0; i < _conns.Length; i++)
            {
                var conn = _conns[i];
                if (conn.State == ConnState.Idle && _schedule.IsDue(i, now))
                {
                    Begin(i, now);
                }

                switch (conn.State)
                {
                    case ConnState.Idle:
                        _idle[i] = true;
                        active = true;
                        break;
                    case ConnState.Connecting or ConnState.InFlight:
                        _idle[i] = false;
                        active = true;
                        if (now - conn.Sent > timeoutTicks)
                        {
                            Fail(i, conn.State == ConnState.Connecting ? BenchErrorKind.Connect : BenchErrorKind.Timeout, now);
                            _idle[i] = true;
                        }

                        break;
                    default:
                        _idle[i] = false;
                        break;
                }
            }

            if (!active)
            {
                return; // every connection is done: the request budget is spent
            }

            var waitTicks = _schedule.WaitTicks(Stopwatch.GetTimestamp(), _idle, MaxSleepNanos * Stopwatch.Frequency / 1_000_000_000);
            var n = Epoll.Wait(_epoll, events, _conns.Length, waitTicks * 1_000_000_000 / Stopwatch.Frequency);
            for (var e = 0; e < n && !_control.IsStopping; e++)
            {
                var index = Epoll.DataAt(events, e);
                var conn = _conns[index];
                switch (conn.State)
                {
                    case ConnState.Connecting:
                        Connected(index, Epoll.EventsAt(events, e));
                        break;
                    case ConnState.InFlight:
                        Readable(index);
                        break;
                    case ConnState.Idle:
                        // An idle keep-alive connection became readable: the server closed it (or sent what was not
                        // asked for). Close it quietly; the next request opens a new one.
                        CloseSocket(conn);
                        break;
                }
            }
        }
    }

    /// <summary>Takes a request from the budget and sends it (opening the connection first when needed).</summary>
    private void Begin(int index, long now)
    {
        var conn = _conns[index];
        if (!_control.TryTake())
        {
            conn.State = ConnState.Done;
            CloseSocket(conn);
            return;
        }

        conn.Request = _requests[conn.Next];
        conn.Next = conn.Next + 1 == _requests.Length ? 0 : conn.Next + 1;
        if (conn.Socket is null)
        {
            conn.Sent = now;
            Connect(index);
            return;
        }

        Send(index);
    }

    private void Connect(int index)
    {
        var conn = _conns[index];
        var socket = new Socket(_endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, Blocking = false };
        conn.Socket = socket;
        conn.Fd = Fd(socket);
        conn.State = ConnState.Connecting;
        try
        {
            socket.Connect(_endPoint);
            Epoll.Control(_epoll, Epoll.CtlAdd, conn.Fd, Epoll.In, index);
            _shard.CountConnect();
            Send(index);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
        {
            Epoll.Control(_epoll, Epoll.CtlAdd, conn.Fd, Epoll.Out, index);
        }
        catch (SocketException)
        {
            Fail(index, BenchErrorKind.Connect, Stopwatch.GetTimestamp());
        }
    }

    private void Connected(int index, uint events)
    {
        var conn = _conns[index];
        var socket = conn.Socket!;
        var error = (events & (Epoll.Err | Epoll.Hup)) != 0 ? -1 : (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        if (error != 0)
        {
            Fail(index, BenchErrorKind.Connect, Stopwatch.GetTimestamp());
            return;
        }

        Epoll.Control(_epoll, Epoll.CtlMod, conn.Fd, Epoll.In, index);
        _shard.CountConnect();
        Send(index);
    }

    private void Send(int index)
    {
        var conn = _conns[index];
        var socket = conn.Socket!;
        var bytes = conn.Request!.Bytes;
        conn.State = ConnState.InFlight;
        conn.Sent = Stopwatch.GetTimestamp();
        conn.MeasureFrom = _schedule.MeasureFrom(index, conn.Sent);
        conn.Parser.Reset(conn.Request.IsHead);
        conn.Start = conn.End = 0;
        conn.Received = 0;
        var offset = 0;
        while (offset < bytes.Length)
        {
            var n = Epoll.Send(conn.Fd, bytes.AsSpan(offset));
            if (n > 0)
            {
                offset += n;
                continue;
            }

            if (n == -Epoll.EAgain && offset > 0 && Wait(socket, Epoll.Out))
            {
                continue; // a request larger than the socket buffer: rare (big bodies), so a short blocking wait
            }

            Fail(index, BenchErrorKind.Reset, conn.Sent);
            return;
        }
    }

    /// <summary>Waits up to the timeout for the socket to become writable (large request bodies only).</summary>
    private bool Wait(Socket socket, uint events) =>
        socket.Poll(TimeSpan.FromTicks(Math.Min(_control.TimeoutTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency, TimeSpan.TicksPerSecond)), events == Epoll.Out ? SelectMode.SelectWrite : SelectMode.SelectRead);

    private void Readable(int index)
    {
        var conn = _conns[index];
        var buffer = conn.Buffer!;
        if (conn.End == buffer.Length)
        {
            if (conn.Start == 0)
            {
                Fail(index, BenchErrorKind.Read, Stopwatch.GetTimestamp()); // a header block larger than the buffer
                return;
            }

            Buffer.BlockCopy(buffer, conn.Start, buffer, 0, conn.End - conn.Start);
            conn.End -= conn.Start;
            conn.Start = 0;
        }

        var read = Epoll.Receive(conn.Fd, buffer.AsSpan(conn.End));
        if (read == -Epoll.EAgain)
        {
            return;
        }

        if (read <= 0)
        {
            if (read == 0 && conn.Parser.ReadsUntilClose)
            {
                CloseSocket(conn);
                Answered(index, Stopwatch.GetTimestamp());
                return;
            }

            Fail(index, BenchErrorKind.Reset, Stopwatch.GetTimestamp());
            return;
        }

        conn.Received += read;
        conn.End += read;
        var status = conn.Parser.Parse(buffer.AsSpan(conn.Start, conn.End - conn.Start), out var consumed);
        conn.Start += consumed;
        if (conn.Start == conn.End)
        {
            conn.Start = conn.End = 0;
        }

        if (status == ParseStatus.Complete)
        {
            var now = Stopwatch.GetTimestamp();
            if (conn.Parser.CloseAfter || conn.Start != conn.End)
            {
                CloseSocket(conn); // closing, or bytes after the answer this client never asked for
            }

            Answered(index, now);
        }
        else if (status == ParseStatus.Malformed)
        {
            Fail(index, BenchErrorKind.Read, Stopwatch.GetTimestamp());
        }
    }

    private void Answered(int index, long now)
    {
        var conn = _conns[index];
        _shard.RecordAnswer(conn.Parser.StatusCode, conn.MeasureFrom, conn.Sent, now);
        _shard.AddBytes(conn.Received);
        conn.State = ConnState.Idle;
        _schedule.Completed(index, now, failed: false);
        if (!_schedule.IsOpenModel || _schedule.IsDue(index, now))
        {
            Begin(index, now); // the closed model's next request, or an open-model one already (nearly) due
        }
    }

    private void Fail(int index, BenchErrorKind kind, long now)
    {
        var conn = _conns[index];
        CloseSocket(conn);
        conn.State = ConnState.Idle;
        if (!_control.IsStopping)
        {
            _shard.RecordError(kind);
        }

        _schedule.Completed(index, now, failed: true);
    }

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    private static void CloseSocket(Conn conn)
    {
        // Closing the descriptor also removes it from the epoll set.
        conn.Socket?.Dispose();
        conn.Socket = null;
        conn.Fd = -1;
    }
}
