namespace Turnpike.Configuration;

/// <summary>A route's <c>bandwidth</c> block and a cluster's <c>adaptiveConcurrency</c> block.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] BandwidthKeys = ["bytesPerSecond", "rate", "burst", "perClient", "maxClients"];
    private static readonly string[] PerClientForms = ["false", "clientIp", "header:NAME"];
    private static readonly string[] AdaptiveConcurrencyKeys =
    [
        "algorithm", "initialLimit", "minLimit", "maxLimit", "sampleWindow", "minSamples",
        "buffer", "minRttInterval", "minRttSamples", "latencyThreshold", "backoffRatio", "increase",
    ];
    private static readonly string[] GradientOnlyKeys = ["buffer", "minRttInterval", "minRttSamples"];
    private static readonly string[] AimdOnlyKeys = ["latencyThreshold", "backoffRatio", "increase"];

    private const long MinBytesPerSecond = 1024;

    private static BandwidthConfig? ReadBandwidth(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        long rate = 0;
        if (s.Has("bytesPerSecond") && s.Has("rate"))
        {
            s.Error("rate", "give either bytesPerSecond or rate, not both");
        }
        else if (s.Has("rate"))
        {
            var text = s.String("rate") ?? string.Empty;
            var trimmed = text.Trim();
            var number = trimmed.EndsWith("/s", StringComparison.OrdinalIgnoreCase) ? trimmed[..^2] : trimmed;
            if (!YamlSection.TryParseSize(number, out rate) || rate < MinBytesPerSecond)
            {
                s.Error("rate", $"'{text}' is not a rate of at least {MinBytesPerSecond} bytes per second (examples: 512KiB/s, 1MiB/s)");
                rate = 0;
            }
        }
        else if (s.Has("bytesPerSecond"))
        {
            rate = s.Size("bytesPerSecond", 0, MinBytesPerSecond);
        }
        else
        {
            s.Require("bytesPerSecond");
        }

        var burst = s.Size("burst", BandwidthConfig.DefaultBurst(Math.Max(rate, MinBytesPerSecond)), BandwidthConfig.MinBurst);
        var (partition, header) = ReadPerClient(s);
        if (s.Has("maxClients") && partition == BandwidthPartition.None)
        {
            s.Error("maxClients", "only applies together with perClient");
        }

        return new BandwidthConfig
        {
            BytesPerSecond = rate,
            Burst = burst,
            PerClient = partition,
            Header = header,
            MaxClients = s.Int("maxClients", new BandwidthConfig().MaxClients, 1, BandwidthConfig.MaxClientsLimit),
        };
    }

    private static (BandwidthPartition, string?) ReadPerClient(YamlSection s)
    {
        if (!s.Has("perClient"))
        {
            return (BandwidthPartition.None, null);
        }

        var text = s.String("perClient")?.Trim() ?? string.Empty;
        switch (text)
        {
            case "false" or "no" or "off" or "none":
                return (BandwidthPartition.None, null);
            case "clientIp":
                return (BandwidthPartition.ClientIp, null);
        }

        if (text.StartsWith("header:", StringComparison.Ordinal))
        {
            var name = text["header:".Length..].Trim();
            if (name.Length == 0 || !IsToken(name))
            {
                s.Error("perClient", $"'{name}' is not a header name");
                return (BandwidthPartition.None, null);
            }

            return (BandwidthPartition.Header, name);
        }

        var suggestion = Suggestions.Closest(text, PerClientForms);
        s.Error("perClient", $"'{text}' is not one of: {string.Join(", ", PerClientForms)}" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
        return (BandwidthPartition.None, null);
    }

    /// <summary>An HTTP token (RFC 9110 §5.6.2), the characters a header name may use.</summary>
    private static bool IsToken(string name)
    {
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
            {
                return false;
            }
        }

        return true;
    }

    private static AdaptiveConcurrencyConfig? ReadAdaptiveConcurrency(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new AdaptiveConcurrencyConfig();
        var algorithm = s.Enum("algorithm", d.Algorithm);
        var (foreign, owner) = algorithm == ConcurrencyAlgorithm.Gradient ? (AimdOnlyKeys, "aimd") : (GradientOnlyKeys, "gradient");
        foreach (var key in foreign)
        {
            if (s.Has(key))
            {
                s.Error(key, $"only applies to algorithm {owner}");
            }
        }

        var min = s.Int("minLimit", d.MinLimit, 1, AdaptiveConcurrencyConfig.MaxLimitCeiling);
        var max = s.Int("maxLimit", Math.Max(d.MaxLimit, min), 1, AdaptiveConcurrencyConfig.MaxLimitCeiling);
        if (max < min)
        {
            s.Error("maxLimit", $"maxLimit ({max}) must be at least minLimit ({min})");
            max = min;
        }

        var initial = s.Int("initialLimit", Math.Clamp(d.InitialLimit, min, max), 1, AdaptiveConcurrencyConfig.MaxLimitCeiling);
        if (initial < min || initial > max)
        {
            s.Error("initialLimit", $"{initial} is outside [minLimit, maxLimit] = [{min}, {max}]");
            initial = Math.Clamp(initial, min, max);
        }

        return new AdaptiveConcurrencyConfig
        {
            Algorithm = algorithm,
            InitialLimit = initial,
            MinLimit = min,
            MaxLimit = max,
            SampleWindow = s.Duration("sampleWindow", d.SampleWindow),
            MinSamples = s.Int("minSamples", d.MinSamples, 1, 100_000),
            Buffer = s.Double("buffer", d.Buffer, 0, 4),
            MinRttInterval = s.Duration("minRttInterval", d.MinRttInterval),
            MinRttSamples = s.Int("minRttSamples", d.MinRttSamples, 1, 100_000),
            LatencyThreshold = s.Duration("latencyThreshold", d.LatencyThreshold),
            BackoffRatio = s.Double("backoffRatio", d.BackoffRatio, 0.5, 0.99),
            Increase = s.Int("increase", d.Increase, 1, 1000),
        };
    }
}
