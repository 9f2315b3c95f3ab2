using Turnpike.ConnectionLimits;

namespace Turnpike.Configuration;

/// <summary>The <c>connectionLimits</c> sections: <c>server.connectionLimits</c> (default) and <c>listeners.*.connectionLimits</c>.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] ConnectionLimitKeys = ["perIp", "newPerIpPerSecond", "burst", "total", "exempt", "maxTrackedIps"];

    internal const int MaxConnectionLimit = 10_000_000;

    /// <summary>
    /// Reads one <c>connectionLimits</c> block. Keys it does not set are taken from <paramref name="inherited"/> (the
    /// server default) when given, so a listener only writes what differs. Null when neither block exists.
    /// </summary>
    private static ConnectionLimitsConfig? ReadConnectionLimits(YamlSection? s, ConnectionLimitsConfig? inherited)
    {
        if (s is null)
        {
            return inherited;
        }

        var d = inherited ?? new ConnectionLimitsConfig();
        var rate = s.Double("newPerIpPerSecond", d.NewPerIpPerSecond, 0, 1_000_000);
        var burst = s.Int("burst", d.Burst, 1, 1_000_000);
        if (s.Has("burst") && rate == 0)
        {
            s.Error("burst", "only applies together with newPerIpPerSecond (the refill rate of the bucket)");
        }

        if (s.Has("newPerIpPerSecond") && rate > 0 && rate < 0.001)
        {
            s.Error("newPerIpPerSecond", $"'{rate.ToString(System.Globalization.CultureInfo.InvariantCulture)}' is too small (at least 0.001, one connection in about 17 minutes; 0 turns the limit off)");
            rate = d.NewPerIpPerSecond;
        }

        return new ConnectionLimitsConfig
        {
            PerIp = s.Int("perIp", d.PerIp, 0, MaxConnectionLimit),
            NewPerIpPerSecond = rate,
            Burst = burst,
            Total = s.Int("total", d.Total, 0, MaxConnectionLimit),
            Exempt = s.Has("exempt") ? ReadExempt(s) : d.Exempt,
            MaxTrackedIps = s.Int("maxTrackedIps", d.MaxTrackedIps, 1, MaxConnectionLimit),
        };
    }

    private static List<string> ReadExempt(YamlSection s)
    {
        var list = new List<string>();
        foreach (var item in s.StringList("exempt"))
        {
            var text = item.Trim();
            if (IpRange.TryParse(text, out var range, out var suggestion))
            {
                list.Add(range.ToString());
            }
            else
            {
                s.Error("exempt", $"'{text}' is not an IP address or CIDR block (examples: 10.0.0.5, 10.0.0.0/8, fd00::/8)"
                    + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
            }
        }

        return list;
    }
}
