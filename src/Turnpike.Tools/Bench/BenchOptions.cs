using System.Text;

namespace Turnpike.Tools.Bench;

/// <summary>Which client a bench run drives.</summary>
public enum BenchProtocol
{
    /// <summary>The lean HTTP/1.1 keep-alive client on sockets (<see cref="Http1Connection"/>).</summary>
    Http1,

    /// <summary>HTTP/2 through <c>SocketsHttpHandler</c>: h2c with prior knowledge, or h2 over TLS with ALPN.</summary>
    Http2,

    /// <summary>WebSocket echo round trips through <c>ClientWebSocket</c>.</summary>
    WebSocket,
}

/// <summary>
/// One bench run, validated up front by <see cref="Validate"/>. Every run is bounded: <see cref="Duration"/> or
/// <see cref="Requests"/> (or both) must be set and a run never lasts longer than <see cref="MaxDuration"/>.
/// </summary>
public sealed record BenchOptions
{
    /// <summary>The longest run allowed, whatever the options say.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    /// <summary>Target URLs; requests go round robin over them. All share scheme, host and port.</summary>
    public required IReadOnlyList<Uri> Urls { get; init; }

    public string Method { get; init; } = "GET";

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public byte[]? Body { get; init; }

    public int Connections { get; init; } = 10;

    /// <summary>Socket event-loop threads (the CLI sets the socket engine's thread count) and histogram shards.</summary>
    public int Threads { get; init; } = 1;

    public TimeSpan? Duration { get; init; }

    public long? Requests { get; init; }

    /// <summary>Open model: total requests (or WebSocket messages) per second, on a fixed schedule.</summary>
    public double? Rate { get; init; }

    public BenchProtocol Protocol { get; init; } = BenchProtocol.Http1;

    /// <summary>HTTP/2: concurrent streams per connection.</summary>
    public int StreamsPerConnection { get; init; } = 1;

    /// <summary>WebSocket: payload bytes per message.</summary>
    public int MessageSize { get; init; } = 32;

    /// <summary>A request (or message) with no answer after this long is a timeout error; its connection is closed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    public bool AllowRemote { get; init; }

    public string? Name { get; init; }

    /// <summary>The run stops after this long even with only <see cref="Requests"/> set.</summary>
    public TimeSpan EffectiveDurationLimit => Duration is { } d && d < MaxDuration ? d : MaxDuration;

    public bool IsOpenModel => Rate is not null;

    /// <summary>Every problem with these options, in plain words; empty when the run may start.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Urls.Count == 0)
        {
            errors.Add("no target URL");
        }

        foreach (var url in Urls)
        {
            var expected = Protocol == BenchProtocol.WebSocket ? "ws or wss" : Protocol == BenchProtocol.Http2 ? "http or https" : "http";
            var ok = Protocol switch
            {
                BenchProtocol.WebSocket => url.Scheme is "ws" or "wss",
                BenchProtocol.Http2 => url.Scheme is "http" or "https",
                _ => url.Scheme is "http",
            };
            if (!url.IsAbsoluteUri || !ok)
            {
                errors.Add(Protocol == BenchProtocol.Http1 && url.Scheme == "https"
                    ? $"'{url}': the HTTP/1.1 client speaks plain http only; use --h2 for https"
                    : $"'{url}': the scheme must be {expected}");
            }
        }

        if (Urls.Count > 1)
        {
            var first = Urls[0];
            foreach (var url in Urls)
            {
                if (url.Scheme != first.Scheme || url.IdnHost != first.IdnHost || url.Port != first.Port)
                {
                    errors.Add($"'{url}': all URLs must share scheme, host and port with '{first}' (one keep-alive connection serves them all)");
                    break;
                }
            }
        }

        if (Duration is null && Requests is null)
        {
            errors.Add("a run needs a bound: --duration or --requests");
        }

        if (Duration is { } d && (d <= TimeSpan.Zero || d > MaxDuration))
        {
            errors.Add($"--duration must be more than 0 and at most {MaxDuration.TotalMinutes:0} minutes");
        }

        if (Requests is <= 0)
        {
            errors.Add("--requests must be at least 1");
        }

        if (Connections is < 1 or > 100_000)
        {
            errors.Add("--connections must be between 1 and 100000");
        }

        if (Threads is < 1 or > 256)
        {
            errors.Add("--threads must be between 1 and 256");
        }

        if (Rate is { } r && (r <= 0 || double.IsNaN(r) || double.IsInfinity(r) || r > 10_000_000))
        {
            errors.Add("--rate must be more than 0 and at most 10000000 per second");
        }

        if (StreamsPerConnection is < 1 or > 1000)
        {
            errors.Add("--streams must be between 1 and 1000");
        }

        if (MessageSize is < 1 or > 16 * 1024 * 1024)
        {
            errors.Add("--message-size must be between 1 byte and 16 MiB");
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(10))
        {
            errors.Add("--timeout must be more than 0 and at most 10 minutes");
        }

        if (string.IsNullOrWhiteSpace(Method) || !IsToken(Method))
        {
            errors.Add($"'{Method}' is not a valid HTTP method");
        }

        foreach (var (name, value) in Headers)
        {
            if (!IsToken(name))
            {
                errors.Add($"'{name}' is not a valid header name");
            }
            else if (value.AsSpan().ContainsAny('\r', '\n'))
            {
                errors.Add($"header '{name}': the value must not contain CR or LF");
            }
        }

        return errors;
    }

    private static bool IsToken(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A header line as "Name: value" from the command line, or null when it has no colon.</summary>
    public static KeyValuePair<string, string>? ParseHeader(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return null;
        }

        return new(line[..colon].Trim(), line[(colon + 1)..].Trim());
    }

    /// <summary>Reads a URL list file: one URL a line; blank lines and lines starting with # are skipped.</summary>
    public static IReadOnlyList<string> ReadUrlFile(string path)
    {
        var urls = new List<string>();
        foreach (var raw in File.ReadLines(path, Encoding.UTF8))
        {
            var line = raw.Trim();
            if (line.Length > 0 && line[0] != '#')
            {
                urls.Add(line);
            }
        }

        return urls;
    }
}
