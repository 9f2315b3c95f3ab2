namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// Programs some tests need from Debian's packages (redis-server, promtool, chromium …). <c>.ci/run</c> installs
/// them, so under CI (<c>CI=true</c>) a missing one fails the test; on a developer machine that has only the .NET SDK
/// the test is reported as skipped instead, so the README's test command passes there too.
/// </summary>
public static class ExternalTool
{
    private static readonly string[] ExtraDirectories = ["/usr/bin", "/usr/sbin", "/usr/local/bin"];

    /// <summary>The full path of <paramref name="name"/> on PATH (or in the usual system folders), or null.</summary>
    public static string? Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraDirectories))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Whether this run is CI's, where every tool the tests need must be present.</summary>
    public static bool UnderCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns the tool's path; skips the test when it is missing outside CI (fails under CI).</summary>
    public static string Require(string name, string package)
    {
        var found = Find(name);
        Skip.If(found is null && !UnderCi, $"{name} is not installed (apt-get install -y {package}; .ci/run installs it)");
        return found ?? throw new InvalidOperationException($"{name} is not installed: apt-get install -y {package} (.ci/run installs it)");
    }
}
