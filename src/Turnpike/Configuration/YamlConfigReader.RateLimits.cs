using System.Net;
using YamlDotNet.RepresentationModel;

namespace Turnpike.Configuration;

/// <summary>The top-level <c>rateLimits</c> and <c>redis</c> sections, and the routes' <c>rateLimit</c> references.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] RateLimitPolicyKeys =
    [
        "algorithm", "limit", "period", "burst", "segments", "key", "trustedProxies", "maxPartitions", "idleTimeout", "scope", "onRedisFailure",
    ];
    private static readonly string[] RateLimitKeyKeys = ["clientIp", "header", "apiKey", "routeValue", "claim"];
    private static readonly string[] RedisKeys = ["configuration", "timeout", "connectTimeout", "retryInterval", "keyPrefix"];
    private const string DefaultApiKeyHeader = "x-api-key";
    private const int MaxPartitionsLimit = 10_000_000;

    /// <summary>Reads <c>rateLimits</c> and <c>redis</c> and checks every route's <c>rateLimit</c> against them.</summary>
    private static GatewayConfig ReadRateLimiting(YamlSection top, GatewayConfig config)
    {
        var redis = ReadRedis(top.Child("redis", RedisKeys));
        var policies = new List<RateLimitPolicyConfig>();
        foreach (var (name, keyNode, map, path) in top.MappingEntries("rateLimits", "algorithm, limit and key"))
        {
            var s = new YamlSection(top.Sink, map, path, RateLimitPolicyKeys);
            if (ReadRateLimitPolicy(s, name, top.Sink.LocationOf(keyNode), redis is not null) is { } policy)
            {
                policies.Add(policy);
            }
        }

        CheckRouteRateLimits(top, config.Routes, policies);
        return config with { RateLimits = policies, Redis = redis };
    }

    private static RateLimitPolicyConfig? ReadRateLimitPolicy(YamlSection s, string name, ConfigLocation location, bool hasRedis)
    {
        var d = new RateLimitPolicyConfig { Name = name };
        if (name.Contains(':', StringComparison.Ordinal) || name.Contains('"', StringComparison.Ordinal))
        {
            s.Sink.Add(location, s.Path, $"policy name '{name}' must not contain ':' or '\"' (it is part of Redis keys and response headers)");
        }

        var algorithm = s.Enum("algorithm", d.Algorithm);
        s.Require("limit");
        var limit = s.Int("limit", 1, 1, RateLimitPolicyConfig.MaxLimit);
        var concurrency = algorithm == RateLimitAlgorithm.Concurrency;
        if (concurrency && s.Has("period"))
        {
            s.Error("period", "does not apply to algorithm concurrency (limit is the number of requests in flight)");
        }

        var period = s.Duration("period", d.Period);
        if (period < TimeSpan.FromMilliseconds(1))
        {
            s.Error("period", "must be at least 1ms");
            period = d.Period;
        }

        var burst = limit;
        if (s.Has("burst"))
        {
            if (algorithm != RateLimitAlgorithm.TokenBucket)
            {
                s.Error("burst", "only applies to algorithm tokenBucket");
            }

            burst = s.Int("burst", limit, 1, RateLimitPolicyConfig.MaxLimit);
        }

        var segments = d.Segments;
        if (s.Has("segments"))
        {
            if (algorithm != RateLimitAlgorithm.SlidingWindow)
            {
                s.Error("segments", "only applies to algorithm slidingWindow");
            }

            segments = s.Int("segments", d.Segments, 1, 1000);
            if (period.Ticks / segments < TimeSpan.TicksPerMillisecond)
            {
                s.Error("segments", $"{segments} segments of a {FormatDuration(period)} period are shorter than 1ms");
            }
        }

        var key = ReadRateLimitKey(s);
        var trusted = s.StringList("trustedProxies");
        if (trusted.Count > 0 && key.Source != RateLimitKeySource.ClientIp)
        {
            s.Error("trustedProxies", "only applies to key clientIp");
        }

        foreach (var proxy in trusted)
        {
            if (!TryParseNetwork(proxy, out _))
            {
                s.Error("trustedProxies", $"'{proxy}' is not an IP address or a CIDR range (examples: 10.0.0.1, 10.0.0.0/8, fd00::/8)");
            }
        }

        var scope = s.Enum("scope", d.Scope);
        if (scope == RateLimitScope.Global)
        {
            if (algorithm != RateLimitAlgorithm.TokenBucket)
            {
                s.Error("scope", $"scope global supports algorithm tokenBucket only (GCRA in Redis), not {Camel(algorithm.ToString())}");
            }

            if (!hasRedis)
            {
                s.Error("scope", "scope global needs a top-level redis section (redis: { configuration: \"127.0.0.1:6379\" })");
            }
        }

        if (s.Has("onRedisFailure") && scope != RateLimitScope.Global)
        {
            s.Error("onRedisFailure", "only applies to scope global");
        }

        return new RateLimitPolicyConfig
        {
            Name = name,
            Algorithm = algorithm,
            Limit = limit,
            Period = concurrency ? TimeSpan.Zero : period,
            Burst = algorithm == RateLimitAlgorithm.TokenBucket ? burst : 0,
            Segments = algorithm == RateLimitAlgorithm.SlidingWindow ? segments : 0,
            Key = key,
            TrustedProxies = trusted,
            MaxPartitions = s.Int("maxPartitions", d.MaxPartitions, 1, MaxPartitionsLimit),
            IdleTimeout = s.Duration("idleTimeout", d.IdleTimeout),
            Scope = scope,
            OnRedisFailure = s.Enum("onRedisFailure", d.OnRedisFailure),
            Location = location,
        };
    }

    private static RateLimitKeyConfig ReadRateLimitKey(YamlSection s)
    {
        switch (s.Raw("key"))
        {
            case null:
                return new RateLimitKeyConfig();
            case YamlScalarNode { Value: "clientIp" }:
                return new RateLimitKeyConfig();
            case YamlScalarNode { Value: "apiKey" }:
                return new RateLimitKeyConfig { Source = RateLimitKeySource.ApiKey, Name = DefaultApiKeyHeader };
            case YamlScalarNode { Value: { } text }:
                var suggestion = Suggestions.Closest(text, RateLimitKeyKeys);
                s.Error("key", $"'{text}' is not clientIp or apiKey; other sources take a name, as {{ header: x-tenant }}, {{ apiKey: x-api-key }}, {{ routeValue: id }} or {{ claim: sub }}"
                    + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
                return new RateLimitKeyConfig();
        }

        if (s.Child("key", RateLimitKeyKeys) is not { } k)
        {
            return new RateLimitKeyConfig();
        }

        var given = RateLimitKeyKeys.Where(k.Has).ToArray();
        if (given.Length != 1)
        {
            k.Sink.Add(k.Node, k.Path, "give exactly one of clientIp, header, apiKey, routeValue or claim");
            return new RateLimitKeyConfig();
        }

        var source = given[0] switch
        {
            "clientIp" => RateLimitKeySource.ClientIp,
            "header" => RateLimitKeySource.Header,
            "apiKey" => RateLimitKeySource.ApiKey,
            "routeValue" => RateLimitKeySource.RouteValue,
            _ => RateLimitKeySource.Claim,
        };
        if (source == RateLimitKeySource.ClientIp)
        {
            return new RateLimitKeyConfig();
        }

        var name = k.String(given[0]);
        if (string.IsNullOrWhiteSpace(name))
        {
            k.Error(given[0], "needs a name");
            return new RateLimitKeyConfig();
        }

        return new RateLimitKeyConfig { Source = source, Name = name.Trim() };
    }

    private static RedisConfig? ReadRedis(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new RedisConfig();
        var configuration = s.String("configuration", d.Configuration)!;
        try
        {
            var options = StackExchange.Redis.ConfigurationOptions.Parse(configuration);
            if (options.EndPoints.Count == 0)
            {
                s.Error("configuration", "names no server (example: 127.0.0.1:6379)");
            }
        }
        catch (ArgumentException ex)
        {
            s.Error("configuration", $"is not a valid Redis configuration string: {ex.Message}");
        }

        var timeout = s.Duration("timeout", d.Timeout);
        if (timeout > TimeSpan.FromSeconds(10))
        {
            s.Error("timeout", "must not exceed 10s: every request of a global policy may wait this long");
        }

        return new RedisConfig
        {
            Configuration = configuration,
            Timeout = timeout,
            ConnectTimeout = s.Duration("connectTimeout", d.ConnectTimeout),
            RetryInterval = s.Duration("retryInterval", d.RetryInterval),
            KeyPrefix = s.String("keyPrefix", d.KeyPrefix)!,
        };
    }

    /// <summary>Each route's <c>rateLimit</c> names a defined policy, at most once; a routeValue key names a parameter of its path.</summary>
    private static void CheckRouteRateLimits(YamlSection top, IReadOnlyList<RouteConfig> routes, List<RateLimitPolicyConfig> policies)
    {
        if (top.Raw("routes") is not YamlMappingNode routeMap)
        {
            return;
        }

        var names = policies.Select(p => p.Name).ToArray();
        foreach (var (keyNode, value) in routeMap.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } id } || value is not YamlMappingNode map
                || !map.Children.TryGetValue(new YamlScalarNode("rateLimit"), out var node))
            {
                continue;
            }

            var field = $"routes.{id}.rateLimit";
            var route = routes.FirstOrDefault(r => r.Id == id);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            IEnumerable<YamlNode> items = node is YamlSequenceNode seq ? seq.Children : [node];
            foreach (var item in items)
            {
                if (item is not YamlScalarNode { Value: { Length: > 0 } name })
                {
                    continue; // StringList reported it
                }

                var policy = policies.FirstOrDefault(p => p.Name == name);
                if (policy is null)
                {
                    var suggestion = Suggestions.Closest(name, names);
                    top.Sink.Add(item, field, $"rate-limit policy '{name}' is not defined in rateLimits" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
                    continue;
                }

                if (!seen.Add(name))
                {
                    top.Sink.Add(item, field, $"policy '{name}' is listed twice");
                }

                if (policy.Key.Source == RateLimitKeySource.RouteValue && route is not null)
                {
                    var path = route.Match.Path ?? string.Empty;
                    if (!path.Contains("{" + policy.Key.Name + "}", StringComparison.Ordinal) && !path.Contains("{**" + policy.Key.Name + "}", StringComparison.Ordinal))
                    {
                        top.Sink.Add(item, field, $"policy '{name}' is keyed by route value '{policy.Key.Name}', which the route's match.path does not capture");
                    }
                }
            }
        }
    }

    internal static bool TryParseNetwork(string text, out IPNetwork network)
    {
        text = text.Trim();
        if (text.Contains('/', StringComparison.Ordinal))
        {
            return IPNetwork.TryParse(text, out network);
        }

        if (IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        network = default;
        return false;
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];
}
