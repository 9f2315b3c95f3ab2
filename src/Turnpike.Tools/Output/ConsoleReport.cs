using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Turnpike.Tools.Bench;
using Turnpike.Tools.Probe;

namespace Turnpike.Tools.Output;

/// <summary>
/// Console output of the tools through Spectre.Console: the live progress line (rewritten in place with a carriage
/// return when the output is a terminal, one line per second otherwise) and the final summaries. Only
/// <c>AnsiConsole</c> markup is used (no Live/Progress widgets), which keeps the Native AOT build free of trim warnings.
/// </summary>
public static class ConsoleReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    static ConsoleReport()
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 400; // no wrapping at 80 columns in logs and pipes
        }
    }

    public static void Progress(BenchProgress progress, double currentRate, string? label)
    {
        var line = string.Format(Inv, "{0}[grey]{1,6:0.0}s[/]  {2,10:N0} req  [bold]{3,9:N0}/s[/]  errors {4}  p99 so far {5:0.###} ms",
            label is null ? "" : $"[blue]{Markup.Escape(label)}[/] ", progress.Elapsed.TotalSeconds, progress.Operations, currentRate,
            progress.Errors == 0 ? "[green]0[/]" : $"[red]{progress.Errors}[/]", progress.P99Ms);
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.MarkupLine(line);
        }
        else
        {
            AnsiConsole.Markup("\r\u001b[2K" + line);
        }
    }

    public static void EndProgress()
    {
        if (!Console.IsOutputRedirected)
        {
            AnsiConsole.WriteLine();
        }
    }

    /// <summary>Runs <paramref name="run"/> while printing progress once a second.</summary>
    public static async Task WithProgressAsync(Func<BenchRunner?> current, Func<Task> run, bool enabled)
    {
        var task = run();
        if (!enabled)
        {
            await task.ConfigureAwait(false);
            return;
        }

        BenchRunner? last = null;
        long lastOps = 0;
        var lastElapsed = TimeSpan.Zero;
        while (await Task.WhenAny(task, Task.Delay(1000)).ConfigureAwait(false) != task)
        {
            var runner = current();
            if (runner is null)
            {
                continue;
            }

            var p = runner.GetProgress();
            if (!ReferenceEquals(runner, last))
            {
                (last, lastOps, lastElapsed) = (runner, p.Operations, p.Elapsed);
                continue;
            }

            var dt = (p.Elapsed - lastElapsed).TotalSeconds;
            var rate = dt > 0 ? (p.Operations - lastOps) / dt : 0;
            Progress(p, rate, runner.Options.Name);
            (lastOps, lastElapsed) = (p.Operations, p.Elapsed);
        }

        EndProgress();
        await task.ConfigureAwait(false);
    }

    public static void Print(BenchResult r)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(r.Name)}[/]: {r.Protocol} {Markup.Escape(r.Method)} {Markup.Escape(r.Target)}, {r.Model} model, {r.Connections} connection(s){(r.StreamsPerConnection is { } s ? $" × {s} stream(s)" : "")}, {r.Threads} thread(s){(r.Rate is { } rate ? string.Format(Inv, ", target rate {0:N0}/s", rate) : "")}");
        AnsiConsole.MarkupLine($"  {r.Operations:N0} operations in {r.Duration:0.00} s = [bold]{r.Throughput:N1}/s[/], {FormatBytes(r.Bytes)} read = {FormatBytes((long)r.Bandwidth)}/s, {r.ConnectionsOpened} connection(s) opened");
        PrintLatency(r.Model == "open" ? "latency (corrected, from intended send time)" : "latency", r.Latency);
        if (r.Model == "open")
        {
            PrintLatency("latency (uncorrected, from actual send)", r.LatencyUncorrected);
        }

        var codes = string.Join("  ", r.StatusCodes.Select(kv => $"{kv.Key}: {kv.Value:N0}"));
        AnsiConsole.MarkupLine($"  status   {(codes.Length == 0 ? "none" : Markup.Escape(codes))}");
        var e = r.Errors;
        var errorColor = e.Transport + e.Status == 0 ? "green" : "red";
        AnsiConsole.MarkupLine($"  errors   [{errorColor}]connect {e.Connect}, timeout {e.Timeout}, reset {e.Reset}, read {e.Read}; status ≥ 400: {e.Status}; error rate {r.ErrorRate:P2}[/]");
        AnsiConsole.MarkupLine($"  process  CPU {r.Process.CpuUserSeconds:0.00} s user + {r.Process.CpuSystemSeconds:0.00} s system = [bold]{r.Process.CpuMicrosPerOperation:0.00} CPU-µs/op[/], peak RSS {FormatBytes(r.Process.PeakWorkingSetBytes)}, allocated {FormatBytes(r.Process.AllocatedBytes)}");
    }

    private static void PrintLatency(string title, LatencySummary l) =>
        AnsiConsole.MarkupLine($"  {Markup.Escape(title)} ms: min {l.Min:0.###}  mean {l.Mean:0.###}  p50 [bold]{l.P50:0.###}[/]  p90 {l.P90:0.###}  p99 [bold]{l.P99:0.###}[/]  p99.9 {l.P999:0.###}  p99.99 {l.P9999:0.###}  max {l.Max:0.###}");

    public static void Print(BenchComparison c)
    {
        Print(c.A);
        Print(c.B);
        AnsiConsole.MarkupLine($"[bold]ratio b/a[/] over {c.Rounds} alternating round(s): throughput {c.Ratio["throughput"]:0.000}×, p50 {c.Ratio["p50"]:0.000}×, p99 {c.Ratio["p99"]:0.000}×, CPU-µs/op {c.Ratio["cpuMicrosPerOperation"]:0.000}×");
    }

    public static void Print(ProbeAttempt a, string target)
    {
        if (a.LatencyMs is { } ms)
        {
            AnsiConsole.MarkupLine($"{Markup.Escape(target)}: seq={a.Sequence} [green]{ms:0.000} ms[/]{(a.Status is { } s ? $" (status {s})" : "")}");
        }
        else
        {
            AnsiConsole.MarkupLine($"{Markup.Escape(target)}: seq={a.Sequence} [red]lost: {Markup.Escape(ProbeRunner.Describe(a.Error ?? "error"))}[/]");
        }
    }

    public static void Print(ProbeResult r)
    {
        AnsiConsole.MarkupLine($"--- {Markup.Escape(r.Target)} {r.Mode} probe ---");
        AnsiConsole.MarkupLine($"{r.Sent} sent, {r.Received} answered, [{(r.LossPercent == 0 ? "green" : "red")}]{r.LossPercent:0.##}% loss[/]");
        if (r.Received > 0)
        {
            AnsiConsole.MarkupLine($"min/avg/max = {r.Min:0.000}/{r.Avg:0.000}/{r.Max:0.000} ms, jitter {r.Jitter:0.000} ms (mean |Δ|; RFC 3550 smoothed {r.JitterRfc3550:0.000} ms)");
        }

        foreach (var (error, count) in r.Errors)
        {
            AnsiConsole.MarkupLine($"[red]{count} × {Markup.Escape(ProbeRunner.Describe(error))}[/]");
        }
    }

    public static void WriteJson(string path, BenchResult result) => WriteFile(path, JsonSerializer.Serialize(result, BenchJsonContext.Default.BenchResult));

    public static void WriteJson(string path, BenchComparison result) => WriteFile(path, JsonSerializer.Serialize(result, BenchJsonContext.Default.BenchComparison));

    public static void WriteJson(string path, ProbeResult result) => WriteFile(path, JsonSerializer.Serialize(result, ProbeJsonContext.Default.ProbeResult));

    private static void WriteFile(string path, string json)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        File.WriteAllText(full, json + "\n");
    }

    private static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Format(Inv, "{0:0.00} GiB", bytes / (double)(1L << 30)),
        >= 1L << 20 => string.Format(Inv, "{0:0.00} MiB", bytes / (double)(1L << 20)),
        >= 1L << 10 => string.Format(Inv, "{0:0.0} KiB", bytes / 1024.0),
        _ => string.Format(Inv, "{0} B", bytes),
    };
}
