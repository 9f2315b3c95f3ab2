using System.Globalization;

namespace Turnpike.Tools.Probe;

/// <summary>One <c>turnpike probe</c> run; <see cref="Validate"/> before starting.</summary>
public sealed record ProbeOptions
{
    public required string Host { get; init; }

    public required int Port { get; init; }

    public int Count { get; init; } = 10;

    /// <summary>Time between the starts of consecutive attempts.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Measure time to the first byte of the answer to <c>GET /</c> (connect included) instead of connect time.</summary>
    public bool Http { get; init; }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Host))
        {
            errors.Add("no host");
        }

        if (Port is < 1 or > 65535)
        {
            errors.Add("the port must be between 1 and 65535");
        }

        if (Count is < 1 or > 100_000)
        {
            errors.Add("--count must be between 1 and 100000");
        }

        if (Interval < TimeSpan.Zero || Interval > TimeSpan.FromHours(1))
        {
            errors.Add("--interval must be between 0 and 1 hour");
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5))
        {
            errors.Add("--timeout must be more than 0 and at most 5 minutes");
        }

        return errors;
    }

    /// <summary>"host:port", "[v6]:port" or "v6-literal" with the port last; null when it is not one of those.</summary>
    public static (string Host, int Port)? ParseTarget(string text)
    {
        text = text.Trim();
        if (text.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return (uri.IdnHost.Trim('[', ']'), uri.Port);
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return null;
        }

        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return null;
        }

        var host = text[..colon].Trim('[', ']');
        return host.Length == 0 ? null : (host, port);
    }
}
