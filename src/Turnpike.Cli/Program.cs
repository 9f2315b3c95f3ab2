using System.CommandLine;
using Turnpike.Cli;

var root = new RootCommand("Turnpike: a high-performance API gateway and reverse proxy.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(ValidateCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(ProbeCommand.Create());

// Signals are handled by `run` itself so that draining is not cut short by the parser's own termination timeout.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
