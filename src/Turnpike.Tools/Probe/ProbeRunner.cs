using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Turnpike.Tools.Probe;

/// <summary>
/// <c>turnpike probe</c>: <see cref="ProbeOptions.Count"/> TCP connects (or GET / with <c>--http</c>, timed to the
/// first byte of the answer) started every <see cref="ProbeOptions.Interval"/>, each bounded by the timeout.
/// A refused or timed-out attempt is lost. Attempts run one after another, never overlapping.
/// </summary>
public sealed class ProbeRunner
{
    private readonly ProbeOptions _options;
    private readonly TimeProvider _time;

    public ProbeRunner(ProbeOptions options, TimeProvider? time = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        _options = options;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Runs every attempt; <paramref name="onAttempt"/> sees each as it ends (the live output).</summary>
    public async Task<ProbeResult> RunAsync(Action<ProbeAttempt>? onAttempt = null, CancellationToken cancellationToken = default)
    {
        var attempts = new List<ProbeAttempt>(_options.Count);
        IPAddress[]? addresses = null;
        var start = _time.GetTimestamp();
        for (var i = 0; i < _options.Count && !cancellationToken.IsCancellationRequested; i++)
        {
            var due = TimeSpan.FromTicks(_options.Interval.Ticks * i) - _time.GetElapsedTime(start);
            if (i > 0 && due > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(due, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            ProbeAttempt attempt;
            if (addresses is null)
            {
                (addresses, var dnsError) = await ResolveAsync(cancellationToken).ConfigureAwait(false);
                attempt = dnsError is null ? await AttemptAsync(i + 1, addresses!, cancellationToken).ConfigureAwait(false) : new ProbeAttempt { Sequence = i + 1, Error = dnsError };
            }
            else
            {
                attempt = await AttemptAsync(i + 1, addresses, cancellationToken).ConfigureAwait(false);
            }

            attempts.Add(attempt);
            onAttempt?.Invoke(attempt);
        }

        return Summarize(attempts);
    }

    private async Task<(IPAddress[]? Addresses, string? Error)> ResolveAsync(CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(_options.Host, out var literal))
        {
            return ([literal], null);
        }

        try
        {
            var found = await Dns.GetHostAddressesAsync(_options.Host, cancellationToken).ConfigureAwait(false);
            return found.Length == 0 ? (null, "dns") : (found, null);
        }
        catch (SocketException)
        {
            return (null, "dns");
        }
    }

    private async Task<ProbeAttempt> AttemptAsync(int sequence, IPAddress[] addresses, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        using var socket = new Socket(addresses[0].AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var started = Stopwatch.GetTimestamp();
        try
        {
            await socket.ConnectAsync(new IPEndPoint(addresses[0], _options.Port), timeout.Token).ConfigureAwait(false);
            if (!_options.Http)
            {
                return new ProbeAttempt { Sequence = sequence, LatencyMs = Elapsed(started) };
            }

            var request = Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {HostHeader()}\r\nUser-Agent: turnpike-probe\r\nConnection: close\r\n\r\n");
            await socket.SendAsync(request, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[64];
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            var ttfb = Elapsed(started);
            if (n == 0)
            {
                return new ProbeAttempt { Sequence = sequence, Error = "closed" };
            }

            // The status code, when the first read holds the status line (it nearly always does).
            while (n < 12)
            {
                var more = await socket.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (more == 0)
                {
                    break;
                }

                n += more;
            }

            int? status = n >= 12 && buffer.AsSpan(0, 5).SequenceEqual("HTTP/"u8) && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), out var s) ? s : null;
            return new ProbeAttempt { Sequence = sequence, LatencyMs = ttfb, Status = status };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeAttempt { Sequence = sequence, Error = "timeout" };
        }
        catch (SocketException ex)
        {
            return new ProbeAttempt { Sequence = sequence, Error = Classify(ex.SocketErrorCode) };
        }
    }

    private string HostHeader() => _options.Host.Contains(':', StringComparison.Ordinal) ? $"[{_options.Host}]:{_options.Port}" : $"{_options.Host}:{_options.Port}";

    private static double Elapsed(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);

    private static string Classify(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "refused",
        SocketError.TimedOut => "timeout",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.NetworkDown => "unreachable",
        SocketError.ConnectionReset or SocketError.ConnectionAborted => "reset",
        _ => "error",
    };

    private ProbeResult Summarize(List<ProbeAttempt> attempts)
    {
        var samples = new List<double>(attempts.Count);
        var errors = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var attempt in attempts)
        {
            if (attempt.LatencyMs is { } ms)
            {
                samples.Add(ms);
            }
            else
            {
                errors[attempt.Error ?? "error"] = errors.GetValueOrDefault(attempt.Error ?? "error") + 1;
            }
        }

        var sent = attempts.Count;
        var any = samples.Count > 0;
        return new ProbeResult
        {
            Target = $"{(_options.Host.Contains(':', StringComparison.Ordinal) ? $"[{_options.Host}]" : _options.Host)}:{_options.Port}",
            Mode = _options.Http ? "http" : "tcp",
            Timestamp = _time.GetUtcNow(),
            Sent = sent,
            Received = samples.Count,
            LossPercent = sent == 0 ? 0 : Math.Round(100.0 * (sent - samples.Count) / sent, 2),
            Min = any ? samples.Min() : null,
            Avg = any ? Math.Round(samples.Average(), 3) : null,
            Max = any ? samples.Max() : null,
            Jitter = any ? Math.Round(Jitter.MeanAbsoluteDifference(samples), 3) : null,
            JitterRfc3550 = any ? Math.Round(Jitter.Smoothed(samples), 3) : null,
            Errors = new Dictionary<string, int>(errors),
            Attempts = attempts,
        };
    }

    /// <summary>A plain sentence for an error kind, for the live output and the summary.</summary>
    public static string Describe(string error) => error switch
    {
        "refused" => "connection refused (nothing listens on that port)",
        "timeout" => "timed out",
        "unreachable" => "host or network unreachable",
        "reset" => "connection reset",
        "closed" => "connection closed before any byte of an answer",
        "dns" => "the host name does not resolve",
        _ => "socket error",
    };
}
