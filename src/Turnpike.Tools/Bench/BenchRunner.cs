using System.Diagnostics;
using System.Globalization;
using System.Net;
using HdrHistogram;

namespace Turnpike.Tools.Bench;

/// <summary>A bench run cannot start: the message says why in plain words.</summary>
public sealed class BenchException(string message) : Exception(message);

/// <summary>A moment of a running bench, for the live progress line.</summary>
public readonly record struct BenchProgress(TimeSpan Elapsed, long Operations, long Errors, double P99Ms);

/// <summary>
/// Runs the load of one <see cref="BenchOptions"/>: one loop per connection (HTTP/2: per stream), statistics in one
/// <see cref="BenchShard"/> per thread, a watchdog that times out stuck requests. <see cref="RunAsync"/> may be called
/// several times (the rounds of <c>--compare</c>); the statistics accumulate and <see cref="GetResult"/> reports them all.
/// </summary>
public sealed class BenchRunner
{
    private readonly BenchOptions _options;
    private readonly BenchShard[] _shards;
    private readonly TimeProvider _time;
    private long _measuredTicks;
    private TimeSpan _cpuUser;
    private TimeSpan _cpuSystem;
    private long _allocated;
    private int _gen0;
    private long _roundStart;
    private long _progressBase;

    public BenchRunner(BenchOptions options, TimeProvider? time = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new BenchException(string.Join("; ", errors));
        }

        _options = options;
        _time = time ?? TimeProvider.System;
        _shards = new BenchShard[options.Threads];
        for (var i = 0; i < _shards.Length; i++)
        {
            _shards[i] = new BenchShard();
        }
    }

    public BenchOptions Options => _options;

    /// <summary>
    /// HTTP/1.1 runs on <see cref="Http1EventLoop"/> where epoll is available (Linux), else on the portable
    /// <see cref="Http1Connection"/> loops. Tests set it to cover both.
    /// </summary>
    internal bool UseEventLoop { get; init; } = Epoll.IsSupported;

    /// <summary>Runs one round, bounded by the options' duration and request count (and by <paramref name="cancellationToken"/>).</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var target = _options.Urls[0];
        var refusal = await TargetGuard.CheckAsync(target.IdnHost, _options.AllowRemote, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            throw new BenchException(refusal);
        }

        var slots = _options.Protocol == BenchProtocol.Http2 ? _options.Connections * _options.StreamsPerConnection : _options.Connections;
        var cpuBefore = Environment.CpuUsage;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var gen0Before = GC.CollectionCount(0);
        using var control = new RunControl(_options, slots, cancellationToken);
        Volatile.Write(ref _roundStart, control.Start);
        var loops = new Task[slots];
        var timed = new List<ITimedSlot>(slots);
        var h2Connections = new List<Http2Connection>();
        try
        {
            switch (_options.Protocol)
            {
                case BenchProtocol.Http1:
                {
                    var endPoint = await ResolveAsync(target, cancellationToken).ConfigureAwait(false);
                    var templates = new Http1RequestTemplate[_options.Urls.Count];
                    for (var i = 0; i < templates.Length; i++)
                    {
                        templates[i] = Http1RequestTemplate.Create(_options.Urls[i], _options.Method, _options.Headers, _options.Body);
                    }

                    if (UseEventLoop)
                    {
                        // Linux: one epoll loop (thread) per shard over the connections i ≡ shard (mod threads).
                        loops = new Task[Math.Min(_shards.Length, slots)];
                        for (var s = 0; s < loops.Length; s++)
                        {
                            var mine = new int[((slots - 1 - s) / loops.Length) + 1];
                            for (var k = 0; k < mine.Length; k++)
                            {
                                mine[k] = s + (k * loops.Length);
                            }

                            var loop = new Http1EventLoop(mine, slots, endPoint, templates, _shards[s], control, _options.Rate);
                            loop.Start();
                            loops[s] = loop.Completion;
                        }

                        break;
                    }

                    for (var i = 0; i < slots; i++)
                    {
                        var connection = new Http1Connection(i, endPoint, templates, _shards[i % _shards.Length], control);
                        timed.Add(connection);
                        loops[i] = Task.Run(connection.RunAsync, CancellationToken.None);
                    }

                    break;
                }

                case BenchProtocol.Http2:
                    for (var c = 0; c < _options.Connections; c++)
                    {
                        var shard = _shards[c % _shards.Length];
                        var connection = new Http2Connection(shard, _options.Timeout);
                        h2Connections.Add(connection);
                        for (var s = 0; s < _options.StreamsPerConnection; s++)
                        {
                            var slot = (c * _options.StreamsPerConnection) + s;
                            var stream = new Http2Stream(slot, connection, _options, shard, control);
                            loops[slot] = Task.Run(stream.RunAsync, CancellationToken.None);
                        }
                    }

                    break;

                case BenchProtocol.WebSocket:
                    for (var i = 0; i < slots; i++)
                    {
                        var connection = new WebSocketConnection(i, _options, _shards[i % _shards.Length], control);
                        timed.Add(connection);
                        loops[i] = Task.Run(connection.RunAsync, CancellationToken.None);
                    }

                    break;
            }

            using var watchdogStop = new CancellationTokenSource();
            var watchdog = timed.Count > 0 ? WatchAsync(timed, control.TimeoutTicks, watchdogStop.Token) : Task.CompletedTask;
            await Task.WhenAll(loops).ConfigureAwait(false);
            var end = Math.Min(Stopwatch.GetTimestamp(), control.Start + (long)(_options.EffectiveDurationLimit.TotalSeconds * Stopwatch.Frequency));
            _measuredTicks += end - control.Start;
            await watchdogStop.CancelAsync().ConfigureAwait(false);
            await watchdog.ConfigureAwait(false);
        }
        finally
        {
            control.Stop();
            foreach (var connection in h2Connections)
            {
                connection.Dispose();
            }

            var cpuAfter = Environment.CpuUsage;
            _cpuUser += cpuAfter.UserTime - cpuBefore.UserTime;
            _cpuSystem += cpuAfter.PrivilegedTime - cpuBefore.PrivilegedTime;
            _allocated += GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
            _gen0 += GC.CollectionCount(0) - gen0Before;
            _progressBase = _measuredTicks;
            Volatile.Write(ref _roundStart, 0);
        }
    }

    private static async Task WatchAsync(List<ITimedSlot> slots, long timeoutTicks, CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromSeconds(Math.Clamp((double)timeoutTicks / Stopwatch.Frequency / 4, 0.01, 0.1));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var slot in slots)
                {
                    var since = slot.InFlightSince;
                    if (since != 0 && now - since > timeoutTicks)
                    {
                        slot.AbortForTimeout();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the run is over
        }
    }

    private static async Task<IPEndPoint> ResolveAsync(Uri url, CancellationToken cancellationToken)
    {
        var host = url.IdnHost.Trim('[', ']');
        if (IPAddress.TryParse(host, out var literal))
        {
            return new IPEndPoint(literal, url.Port);
        }

        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new BenchException($"'{host}' resolves to no address");
        }

        return new IPEndPoint(addresses[0], url.Port);
    }

    /// <summary>Elapsed time, answers and errors so far, and the p99 so far (approximate while recording).</summary>
    public BenchProgress GetProgress()
    {
        long operations = 0, errors = 0;
        double p99 = 0;
        foreach (var shard in _shards)
        {
            operations += shard.Operations;
            for (var k = 0; k < 4; k++)
            {
                errors += shard.ErrorCount((BenchErrorKind)k);
            }

            if (shard.Corrected.TotalCount > 0)
            {
                p99 = Math.Max(p99, shard.Corrected.GetValueAtPercentile(99) / 1000.0);
            }
        }

        var roundStart = Volatile.Read(ref _roundStart);
        var ticks = _progressBase + (roundStart == 0 ? 0 : Stopwatch.GetTimestamp() - roundStart);
        return new BenchProgress(TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency), operations, errors, p99);
    }

    /// <summary>The statistics of every round so far.</summary>
    public BenchResult GetResult()
    {
        var corrected = LatencyHistogram.Create();
        var uncorrected = LatencyHistogram.Create();
        long operations = 0, bytes = 0, connects = 0;
        var errors = new long[4];
        var status = new SortedDictionary<int, long>();
        foreach (var shard in _shards)
        {
            corrected.Add(shard.Corrected);
            uncorrected.Add(shard.Uncorrected);
            operations += shard.Operations;
            bytes += shard.Bytes;
            connects += shard.Connects;
            for (var k = 0; k < errors.Length; k++)
            {
                errors[k] += shard.ErrorCount((BenchErrorKind)k);
            }

            for (var code = 1; code < BenchShard.MaxStatus; code++)
            {
                var count = shard.StatusCount(code);
                if (count > 0)
                {
                    status[code] = status.GetValueOrDefault(code) + count;
                }
            }
        }

        long statusErrors = 0;
        var statusCodes = new Dictionary<string, long>();
        foreach (var (code, count) in status)
        {
            statusCodes[code.ToString(CultureInfo.InvariantCulture)] = count;
            if (code >= 400)
            {
                statusErrors += count;
            }
        }

        var transport = errors[0] + errors[1] + errors[2] + errors[3];
        var seconds = (double)_measuredTicks / Stopwatch.Frequency;
        var cpu = (_cpuUser + _cpuSystem).TotalMicroseconds;
        var attempts = operations + transport;
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return new BenchResult
        {
            Name = _options.Name ?? _options.Urls[0].ToString(),
            Timestamp = _time.GetUtcNow(),
            Target = _options.Urls[0].ToString(),
            Urls = _options.Urls.Select(u => u.ToString()).ToArray(),
            Protocol = _options.Protocol switch { BenchProtocol.Http2 => "h2", BenchProtocol.WebSocket => "ws", _ => "http1" },
            Model = _options.IsOpenModel ? "open" : "closed",
            Method = _options.Protocol == BenchProtocol.WebSocket ? "WS" : _options.Method,
            Connections = _options.Connections,
            Threads = _options.Threads,
            StreamsPerConnection = _options.Protocol == BenchProtocol.Http2 ? _options.StreamsPerConnection : null,
            Rate = _options.Rate,
            Duration = Math.Round(seconds, 3),
            Operations = operations,
            Throughput = seconds > 0 ? Math.Round(operations / seconds, 1) : 0,
            Latency = LatencyHistogram.Summarize(corrected),
            LatencyUncorrected = LatencyHistogram.Summarize(uncorrected),
            StatusCodes = statusCodes,
            Errors = new ErrorCounts
            {
                Connect = errors[(int)BenchErrorKind.Connect],
                Timeout = errors[(int)BenchErrorKind.Timeout],
                Reset = errors[(int)BenchErrorKind.Reset],
                Read = errors[(int)BenchErrorKind.Read],
                Transport = transport,
                Status = statusErrors,
            },
            ErrorRate = attempts > 0 ? Math.Round((double)(transport + statusErrors) / attempts, 6) : 0,
            Bytes = bytes,
            Bandwidth = seconds > 0 ? Math.Round(bytes / seconds, 1) : 0,
            ConnectionsOpened = connects,
            Process = new ProcessUsage
            {
                CpuUserSeconds = Math.Round(_cpuUser.TotalSeconds, 3),
                CpuSystemSeconds = Math.Round(_cpuSystem.TotalSeconds, 3),
                CpuMicrosPerOperation = operations > 0 ? Math.Round(cpu / operations, 2) : 0,
                PeakWorkingSetBytes = process.PeakWorkingSet64,
                AllocatedBytes = _allocated,
                Gen0Collections = _gen0,
            },
        };
    }

    /// <summary>The merged corrected-latency histogram (tests and the comparison use it).</summary>
    internal HistogramBase CorrectedHistogram()
    {
        var merged = LatencyHistogram.Create();
        foreach (var shard in _shards)
        {
            merged.Add(shard.Corrected);
        }

        return merged;
    }
}
