using System.Globalization;

namespace Turnpike.Configuration;

/// <summary>The <c>healthCheck</c> and <c>circuitBreaker</c> sections of a cluster.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] HealthCheckKeys = ["active", "passive"];
    private static readonly string[] ActiveHealthKeys = ["path", "interval", "timeout", "expectedStatus", "healthyThreshold", "unhealthyThreshold"];
    private static readonly string[] PassiveHealthKeys = ["consecutiveFailures", "failureRate", "baseEjectionTime", "maxEjectionTime", "maxEjectionPercent"];
    private static readonly string[] FailureRateKeys = ["threshold", "minRequests", "window"];
    private static readonly string[] CircuitBreakerKeys =
    [
        "consecutiveFailures", "failureRatio", "minimumThroughput", "samplingDuration", "breakDuration", "halfOpenRequests", "successThreshold",
    ];

    private static HealthCheckConfig ReadHealthCheck(YamlSection? s)
    {
        if (s is null)
        {
            return new HealthCheckConfig();
        }

        return new HealthCheckConfig
        {
            Active = ReadActiveHealth(s.Child("active", ActiveHealthKeys)),
            Passive = ReadPassiveHealth(s.Child("passive", PassiveHealthKeys)),
        };
    }

    private static ActiveHealthCheckConfig? ReadActiveHealth(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new ActiveHealthCheckConfig();
        var path = s.String("path", d.Path)!;
        if (!path.StartsWith('/'))
        {
            s.Error("path", $"'{path}' must be a path starting with '/'");
        }

        var (min, max) = (d.ExpectedStatusMin, d.ExpectedStatusMax);
        if (s.String("expectedStatus") is { } range && !TryParseStatusRange(range, out min, out max))
        {
            s.Error("expectedStatus", $"'{range}' is not a status or an inclusive range of statuses (examples: 200, 200-399)");
            (min, max) = (d.ExpectedStatusMin, d.ExpectedStatusMax);
        }

        var interval = s.Duration("interval", d.Interval);
        var timeout = s.Duration("timeout", d.Timeout);
        if (s.Has("timeout") && timeout > interval)
        {
            s.Error("timeout", $"the probe timeout ({timeout.TotalSeconds:0.###}s) must not exceed the interval ({interval.TotalSeconds:0.###}s)");
        }

        return new ActiveHealthCheckConfig
        {
            Path = path,
            Interval = interval,
            Timeout = timeout,
            ExpectedStatusMin = min,
            ExpectedStatusMax = max,
            HealthyThreshold = s.Int("healthyThreshold", d.HealthyThreshold, 1, 100),
            UnhealthyThreshold = s.Int("unhealthyThreshold", d.UnhealthyThreshold, 1, 100),
        };
    }

    /// <summary>"200" or "200-399", statuses 100..599.</summary>
    internal static bool TryParseStatusRange(string text, out int min, out int max)
    {
        var parts = text.Split('-', StringSplitOptions.TrimEntries);
        min = max = 0;
        if (parts.Length is < 1 or > 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out min)
            || !int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out max))
        {
            return false;
        }

        return min is >= 100 and <= 599 && max is >= 100 and <= 599 && min <= max;
    }

    private static PassiveHealthCheckConfig? ReadPassiveHealth(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new PassiveHealthCheckConfig();
        var consecutive = s.Int("consecutiveFailures", d.ConsecutiveFailures, 0, 1000);
        var rate = ReadFailureRate(s.Child("failureRate", FailureRateKeys));
        if (consecutive == 0 && rate is null)
        {
            s.Error("consecutiveFailures", "0 turns the consecutive-failure trigger off, and no failureRate is set: nothing would ever eject a destination");
        }

        var baseTime = s.Duration("baseEjectionTime", d.BaseEjectionTime);
        var maxTime = s.Duration("maxEjectionTime", d.MaxEjectionTime);
        if (maxTime < baseTime)
        {
            s.Error(s.Has("maxEjectionTime") ? "maxEjectionTime" : "baseEjectionTime", "maxEjectionTime must be at least baseEjectionTime");
        }

        return new PassiveHealthCheckConfig
        {
            ConsecutiveFailures = consecutive,
            FailureRate = rate,
            BaseEjectionTime = baseTime,
            MaxEjectionTime = maxTime,
            MaxEjectionPercent = s.Int("maxEjectionPercent", d.MaxEjectionPercent, 0, 100),
        };
    }

    private static FailureRateConfig? ReadFailureRate(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new FailureRateConfig();
        return new FailureRateConfig
        {
            Threshold = s.Double("threshold", d.Threshold, 0.01, 1),
            MinRequests = s.Int("minRequests", d.MinRequests, 1, 1_000_000),
            Window = s.Duration("window", d.Window),
        };
    }

    private static CircuitBreakerConfig? ReadCircuitBreaker(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new CircuitBreakerConfig();
        var consecutive = s.Int("consecutiveFailures", d.ConsecutiveFailures, 0, 1000);
        double? ratio = s.Has("failureRatio") ? s.Double("failureRatio", 0.5, 0.01, 1) : null;
        if (consecutive == 0 && ratio is null)
        {
            s.Error("consecutiveFailures", "0 turns the consecutive-failure trigger off, and no failureRatio is set: the breaker would never open");
        }

        foreach (var key in new[] { "minimumThroughput", "samplingDuration" })
        {
            if (s.Has(key) && ratio is null)
            {
                s.Error(key, "only applies together with failureRatio");
            }
        }

        return new CircuitBreakerConfig
        {
            ConsecutiveFailures = consecutive,
            FailureRatio = ratio,
            MinimumThroughput = s.Int("minimumThroughput", d.MinimumThroughput, 1, 1_000_000),
            SamplingDuration = s.Duration("samplingDuration", d.SamplingDuration),
            BreakDuration = s.Duration("breakDuration", d.BreakDuration),
            HalfOpenRequests = s.Int("halfOpenRequests", d.HalfOpenRequests, 1, 1000),
            SuccessThreshold = s.Int("successThreshold", d.SuccessThreshold, 1, 1000),
        };
    }
}
