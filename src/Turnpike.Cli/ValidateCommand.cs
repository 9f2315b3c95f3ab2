using System.CommandLine;
using Turnpike.Configuration;

namespace Turnpike.Cli;

internal static class ValidateCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files")
        {
            Description = "Configuration files to check.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("validate", "Check configuration files and print every error with file, line, column and field. Exit code 1 when any file is invalid.") { files };
        command.SetAction(parse =>
        {
            var exit = 0;
            foreach (var file in parse.GetValue(files) ?? [])
            {
                var result = ConfigValidator.Validate(ConfigSource.FromFile(file.FullName));
                if (result.IsValid)
                {
                    var c = result.Config!;
                    Console.WriteLine($"{file}: valid ({c.Listeners.Count} listener(s), {c.Routes.Count} route(s), {c.Clusters.Count} cluster(s))");
                    continue;
                }

                exit = 1;
                Console.Error.WriteLine($"{file}: {result.Errors.Count} error(s)");
                foreach (var error in result.Errors)
                {
                    Console.Error.WriteLine($"  {error}");
                }
            }

            return exit;
        });
        return command;
    }
}
