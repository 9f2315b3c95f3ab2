using System.CommandLine;
using Turnpike.Configuration;
using Turnpike.Tools.Output;
using Turnpike.Tools.Probe;

namespace Turnpike.Cli;

/// <summary><c>turnpike probe HOST:PORT</c>: TCP connect (or HTTP TTFB) latency, jitter and loss (docs/bench.md).</summary>
internal static class ProbeCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("target") { Description = "HOST:PORT ([v6]:PORT for IPv6)." };
        var count = new Option<int>("--count", "-n") { Description = "Attempts (default 10).", DefaultValueFactory = _ => 10 };
        var interval = new Option<string>("--interval", "-i") { Description = "Time between attempt starts (default 1s).", DefaultValueFactory = _ => "1s" };
        var timeout = new Option<string>("--timeout") { Description = "Per-attempt timeout; an attempt without an answer by then is lost (default 2s).", DefaultValueFactory = _ => "2s" };
        var http = new Option<bool>("--http") { Description = "Send GET / and measure the time to the first byte of the answer (connect included)." };
        var json = new Option<FileInfo?>("--json") { Description = "Write the result document (docs/bench.md) to this file." };
        var command = new Command("probe", "TCP connect latency (or HTTP time to first byte) over N attempts: min/avg/max, jitter, loss.") { target, count, interval, timeout, http, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var parsed = ProbeOptions.ParseTarget(parse.GetValue(target)!);
            if (parsed is null)
            {
                errors.Add($"'{parse.GetValue(target)}' is not HOST:PORT");
            }

            if (!YamlSection.TryParseDuration(parse.GetValue(interval)!, out var intervalValue))
            {
                errors.Add($"--interval '{parse.GetValue(interval)}' is not a valid duration (examples: 250ms, 1s)");
            }

            if (!YamlSection.TryParseDuration(parse.GetValue(timeout)!, out var timeoutValue))
            {
                errors.Add($"--timeout '{parse.GetValue(timeout)}' is not a valid duration (examples: 250ms, 2s)");
            }

            if (errors.Count == 0)
            {
                var options = new ProbeOptions
                {
                    Host = parsed!.Value.Host,
                    Port = parsed.Value.Port,
                    Count = parse.GetValue(count),
                    Interval = intervalValue,
                    Timeout = timeoutValue,
                    Http = parse.GetValue(http),
                };
                errors.AddRange(options.Validate());
                if (errors.Count == 0)
                {
                    var label = parse.GetValue(target)!;
                    var result = await new ProbeRunner(options).RunAsync(a => ConsoleReport.Print(a, label), cancellationToken);
                    ConsoleReport.Print(result);
                    if (parse.GetValue(json) is { } file)
                    {
                        ConsoleReport.WriteJson(file.FullName, result);
                    }

                    if (result.Received == 0)
                    {
                        await Console.Error.WriteLineAsync($"turnpike probe: {label}: no attempt was answered (100% loss)");
                        return 1;
                    }

                    return 0;
                }
            }

            foreach (var error in errors)
            {
                await Console.Error.WriteLineAsync($"turnpike probe: {error}");
            }

            return 1;
        });
        return command;
    }
}
