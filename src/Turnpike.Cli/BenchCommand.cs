using System.CommandLine;
using System.Globalization;
using Turnpike.Configuration;
using Turnpike.Tools.Bench;
using Turnpike.Tools.Output;

namespace Turnpike.Cli;

/// <summary><c>turnpike bench URL</c>: the load generator (src/Turnpike.Tools/Bench, docs/bench.md).</summary>
internal static class BenchCommand
{
    private const string ThreadCountVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    public static Command Create()
    {
        var url = new Argument<string?>("url") { Description = "Target URL (http://, ws:// with --ws). Loopback only unless --allow-remote.", Arity = ArgumentArity.ZeroOrOne };
        var connections = new Option<int>("--connections", "-c") { Description = "Connections kept open (default 10).", DefaultValueFactory = _ => 10 };
        var duration = new Option<string?>("--duration", "-d") { Description = "Run length, e.g. 10s, 2m (default 10s unless --requests is given; at most 1h)." };
        var requests = new Option<long?>("--requests", "-n") { Description = "Stop after this many requests (or messages)." };
        var threads = new Option<int>("--threads", "-t") { Description = "Socket event-loop threads and statistics shards (default 1).", DefaultValueFactory = _ => 1 };
        var rate = new Option<double?>("--rate", "-R") { Description = "Open model: total requests (or messages) per second on a fixed schedule; latency is measured from each intended send time (coordinated-omission correction)." };
        var h2 = new Option<bool>("--h2") { Description = "HTTP/2 (h2c with prior knowledge for http://, ALPN for https://)." };
        var streams = new Option<int>("--streams") { Description = "HTTP/2: concurrent streams per connection (default 1).", DefaultValueFactory = _ => 1 };
        var ws = new Option<bool>("--ws") { Description = "WebSocket: each connection sends a message and times its echo." };
        var messageSize = new Option<int>("--message-size") { Description = "WebSocket message size in bytes (default 32).", DefaultValueFactory = _ => 32 };
        var method = new Option<string>("--method", "-X") { Description = "HTTP method (default GET).", DefaultValueFactory = _ => "GET" };
        var headers = new Option<string[]>("--header", "-H") { Description = "A request header \"Name: value\" (repeatable)." };
        var body = new Option<FileInfo?>("--body") { Description = "Request body from this file." };
        var urls = new Option<FileInfo?>("--urls") { Description = "A file of URLs, one a line, sent round robin (same scheme, host and port)." };
        var timeout = new Option<string>("--timeout") { Description = "Per-request timeout (default 10s).", DefaultValueFactory = _ => "10s" };
        var json = new Option<FileInfo?>("--json") { Description = "Write the result document (docs/bench.md) to this file." };
        var name = new Option<string?>("--name") { Description = "Name of the run in the output and the JSON." };
        var compare = new Option<string?>("--compare") { Description = "A second URL: the same load in alternating rounds against both, printed with the ratio (second / first)." };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of --compare (default 3); each gets duration / rounds.", DefaultValueFactory = _ => 3 };
        var warmup = new Option<string?>("--warmup") { Description = "An unrecorded run of this length first (e.g. 40s to let a JIT-compiled server settle)." };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow targets that are not loopback addresses." };
        var noProgress = new Option<bool>("--no-progress") { Description = "No live progress line." };

        var command = new Command("bench", "HTTP/1.1, HTTP/2 and WebSocket load generator with HDR latency histograms (closed model, or open model with --rate).")
        {
            url, connections, duration, requests, threads, rate, h2, streams, ws, messageSize, method, headers, body, urls, timeout, json, name, compare, rounds, warmup, allowRemote, noProgress,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var durationValue = ParseDuration(parse.GetValue(duration), "--duration", errors);
            var timeoutValue = ParseDuration(parse.GetValue(timeout), "--timeout", errors);
            var warmupValue = ParseDuration(parse.GetValue(warmup), "--warmup", errors);
            var requestsValue = parse.GetValue(requests);
            if (durationValue is null && requestsValue is null)
            {
                durationValue = TimeSpan.FromSeconds(10);
            }

            var targets = new List<Uri>();
            if (parse.GetValue(url) is { } single)
            {
                AddUrl(single, targets, errors);
            }

            if (parse.GetValue(urls) is { } urlFile)
            {
                if (!urlFile.Exists)
                {
                    errors.Add($"--urls: {urlFile.FullName} does not exist");
                }
                else
                {
                    foreach (var line in BenchOptions.ReadUrlFile(urlFile.FullName))
                    {
                        AddUrl(line, targets, errors);
                    }
                }
            }

            var headerList = new List<KeyValuePair<string, string>>();
            foreach (var line in parse.GetValue(headers) ?? [])
            {
                if (BenchOptions.ParseHeader(line) is { } header)
                {
                    headerList.Add(header);
                }
                else
                {
                    errors.Add($"--header '{line}': expected \"Name: value\"");
                }
            }

            byte[]? bodyBytes = null;
            if (parse.GetValue(body) is { } bodyFile)
            {
                if (bodyFile.Exists)
                {
                    bodyBytes = await File.ReadAllBytesAsync(bodyFile.FullName, cancellationToken);
                }
                else
                {
                    errors.Add($"--body: {bodyFile.FullName} does not exist");
                }
            }

            if (parse.GetValue(h2) && parse.GetValue(ws))
            {
                errors.Add("--h2 and --ws exclude each other");
            }

            if (targets.Count == 0 && errors.Count == 0)
            {
                errors.Add("no target: give a URL or --urls FILE");
            }

            if (errors.Count > 0)
            {
                return Fail(errors);
            }

            var options = new BenchOptions
            {
                Urls = targets,
                Method = parse.GetValue(method)!.ToUpperInvariant(),
                Headers = headerList,
                Body = bodyBytes,
                Connections = parse.GetValue(connections),
                Threads = parse.GetValue(threads),
                Duration = durationValue,
                Requests = requestsValue,
                Rate = parse.GetValue(rate),
                Protocol = parse.GetValue(h2) ? BenchProtocol.Http2 : parse.GetValue(ws) ? BenchProtocol.WebSocket : BenchProtocol.Http1,
                StreamsPerConnection = parse.GetValue(streams),
                MessageSize = parse.GetValue(messageSize),
                Timeout = timeoutValue ?? TimeSpan.FromSeconds(10),
                AllowRemote = parse.GetValue(allowRemote),
                Name = parse.GetValue(name),
            };
            var optionErrors = options.Validate();
            if (optionErrors.Count > 0)
            {
                return Fail(optionErrors);
            }

            ConfigureSockets(options.Threads);
            var progress = !parse.GetValue(noProgress);
            try
            {
                if (warmupValue is { } w && w > TimeSpan.Zero)
                {
                    Console.WriteLine($"warm-up: {w.TotalSeconds:0.#} s, not recorded");
                    var warm = new BenchRunner(options with { Duration = w, Requests = null, Name = "warm-up" });
                    await ConsoleReport.WithProgressAsync(() => warm, () => warm.RunAsync(cancellationToken), progress);
                }

                if (parse.GetValue(compare) is { } other)
                {
                    var otherUrls = new List<Uri>();
                    AddUrl(other, otherUrls, errors);
                    if (errors.Count > 0)
                    {
                        return Fail(errors);
                    }

                    var a = options with { Name = options.Name ?? options.Urls[0].ToString() };
                    var b = options with { Urls = otherUrls, Name = otherUrls[0].ToString() };
                    var comparer = new BenchComparer(a, b, parse.GetValue(rounds));
                    BenchComparison? comparison = null;
                    await ConsoleReport.WithProgressAsync(() => comparer.Current, async () => comparison = await comparer.RunAsync(cancellationToken), progress);
                    ConsoleReport.Print(comparison!);
                    if (parse.GetValue(json) is { } jsonFile)
                    {
                        ConsoleReport.WriteJson(jsonFile.FullName, comparison!);
                    }

                    return comparison!.A.Operations > 0 && comparison.B.Operations > 0 ? 0 : 1;
                }

                var runner = new BenchRunner(options);
                await ConsoleReport.WithProgressAsync(() => runner, () => runner.RunAsync(cancellationToken), progress);
                var result = runner.GetResult();
                ConsoleReport.Print(result);
                if (parse.GetValue(json) is { } file)
                {
                    ConsoleReport.WriteJson(file.FullName, result);
                }

                if (result.Operations == 0)
                {
                    await Console.Error.WriteLineAsync("turnpike bench: no request was answered");
                    return 1;
                }

                return 0;
            }
            catch (BenchException ex)
            {
                return Fail([ex.Message]);
            }
        });
        return command;
    }

    /// <summary>
    /// One socket event-loop thread per <c>--threads</c>, with completions run inline on it (as wrk's event loops):
    /// both are read by .NET when the first socket is created, so they are set before it.
    /// </summary>
    private static void ConfigureSockets(int threads)
    {
        if (Environment.GetEnvironmentVariable(ThreadCountVariable) is null)
        {
            Environment.SetEnvironmentVariable(ThreadCountVariable, threads.ToString(CultureInfo.InvariantCulture));
        }

        if (Environment.GetEnvironmentVariable(Hosting.TurnpikeServer.InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(Hosting.TurnpikeServer.InlineCompletionsVariable, "1");
        }
    }

    private static void AddUrl(string text, List<Uri> targets, List<string> errors)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "ws" or "wss")
        {
            targets.Add(uri);
        }
        else
        {
            errors.Add($"'{text}' is not an absolute http://, https://, ws:// or wss:// URL");
        }
    }

    private static TimeSpan? ParseDuration(string? text, string option, List<string> errors)
    {
        if (text is null)
        {
            return null;
        }

        if (YamlSection.TryParseDuration(text, out var value))
        {
            return value;
        }

        errors.Add($"{option} '{text}' is not a valid duration (examples: 250ms, 10s, 5m, 1h)");
        return null;
    }

    private static int Fail(IReadOnlyList<string> errors)
    {
        foreach (var error in errors)
        {
            Console.Error.WriteLine($"turnpike bench: {error}");
        }

        return 1;
    }
}
