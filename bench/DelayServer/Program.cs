using Turnpike.Bench.DelayServer;

// A target with a known service-time distribution, for bench/tools-vs-wrk.sh's fixed-rate comparison.
//   DelayServer --port 9000 --delays 2ms:90,20ms:10
//   curl -s http://127.0.0.1:9000/__stats ; curl -s -X POST http://127.0.0.1:9000/__reset
// Runs until SIGTERM or Ctrl+C.
var port = 0;
var delays = "2ms:90,20ms:10";
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--port" when int.TryParse(args[i + 1], out var p):
            port = p;
            break;
        case "--delays":
            delays = args[i + 1];
            break;
        default:
            Console.Error.WriteLine("usage: DelayServer [--port N] [--delays 2ms:90,20ms:10]");
            return 2;
    }
}

DelayDistribution distribution;
try
{
    distribution = DelayDistribution.Parse(delays);
}
catch (FormatException ex)
{
    Console.Error.WriteLine($"DelayServer: --delays: {ex.Message}");
    return 2;
}

await using var target = await DelayTarget.StartAsync(port, distribution);
Console.WriteLine($"DelayServer listening on {target.Url} delays {distribution.Text}");
// SIGTERM and Ctrl+C end it (the host's own lifetime may take SIGTERM first: its stopping token counts too).
using var stop = CancellationTokenSource.CreateLinkedTokenSource(target.Stopping);
using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});
using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c =>
{
    c.Cancel = true;
    stop.Cancel();
});
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
    // stopping
}

return 0;
