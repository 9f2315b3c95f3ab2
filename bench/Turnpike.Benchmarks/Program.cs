using BenchmarkDotNet.Running;

namespace Turnpike.Benchmarks;

internal static class Program
{
    // dotnet run -c Release --project bench/Turnpike.Benchmarks -- --filter '*' [--job short]
    private static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
