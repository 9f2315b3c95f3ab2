namespace Turnpike.Configuration;

/// <summary>How a rate-limit policy counts. YAML names are camelCase (tokenBucket, fixedWindow …).</summary>
public enum RateLimitAlgorithm
{
    /// <summary><c>limit</c> tokens per <c>period</c>, up to <c>burst</c> saved up.</summary>
    TokenBucket,
    /// <summary>At most <c>limit</c> requests per <c>period</c>, counted in fixed windows.</summary>
    FixedWindow,
    /// <summary>At most <c>limit</c> requests in any <c>period</c>, the window moving in <c>segments</c> steps.</summary>
    SlidingWindow,
    /// <summary>At most <c>limit</c> requests in flight at once.</summary>
    Concurrency,
}

/// <summary>Where a policy's state lives: this process, or Redis shared by every gateway.</summary>
public enum RateLimitScope
{
    Local,
    Global,
}

/// <summary>What a global policy does while Redis cannot be reached.</summary>
public enum RedisFailureMode
{
    /// <summary>Fail open to the policy's local limiter (per gateway process).</summary>
    Local,
    /// <summary>Fail closed: reject with 429.</summary>
    Deny,
}

/// <summary>Where the partition key of a request comes from.</summary>
public enum RateLimitKeySource
{
    ClientIp,
    Header,
    ApiKey,
    RouteValue,
    /// <summary>A claim of the authenticated user; needs identity (issue #5), so validation rejects it for now.</summary>
    Claim,
}

public sealed record RateLimitKeyConfig
{
    public RateLimitKeySource Source { get; init; } = RateLimitKeySource.ClientIp;
    /// <summary>Header, route value or claim name; null for the client IP.</summary>
    public string? Name { get; init; }
}

/// <summary>One named entry of the top-level <c>rateLimits</c> map.</summary>
public sealed record RateLimitPolicyConfig
{
    public const int MaxLimit = 1_000_000_000;

    public required string Name { get; init; }
    public RateLimitAlgorithm Algorithm { get; init; } = RateLimitAlgorithm.TokenBucket;
    /// <summary>Tokens (token bucket) or requests (windows) per <see cref="Period"/>; in-flight requests (concurrency).</summary>
    public int Limit { get; init; }
    public TimeSpan Period { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Token bucket size; defaults to <see cref="Limit"/>.</summary>
    public int Burst { get; init; }
    /// <summary>Sliding window: how many segments the period is cut into.</summary>
    public int Segments { get; init; } = 10;
    public RateLimitKeyConfig Key { get; init; } = new();
    /// <summary>Peers (IPs or CIDRs) whose X-Forwarded-For is believed, for <c>key: clientIp</c>.</summary>
    public IReadOnlyList<string> TrustedProxies { get; init; } = [];
    /// <summary>Partitions (keys) kept at most; requests with new keys beyond it share one overflow partition.</summary>
    public int MaxPartitions { get; init; } = 100_000;
    /// <summary>A partition unused this long is dropped (never before its state would have fully recovered).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(1);
    public RateLimitScope Scope { get; init; } = RateLimitScope.Local;
    public RedisFailureMode OnRedisFailure { get; init; } = RedisFailureMode.Local;
    [System.Text.Json.Serialization.JsonIgnore]
    public ConfigLocation Location { get; init; }

    /// <summary>Same settings, wherever they are written in the file.</summary>
    public bool SameSettings(RateLimitPolicyConfig other) =>
        this with { TrustedProxies = [], Location = default } == other with { TrustedProxies = [], Location = default }
        && TrustedProxies.SequenceEqual(other.TrustedProxies);
}

/// <summary>The top-level <c>redis</c> section: the server that global rate-limit policies share.</summary>
public sealed record RedisConfig
{
    /// <summary>A StackExchange.Redis configuration string ("host:port,password=…,ssl=true").</summary>
    public string Configuration { get; init; } = "127.0.0.1:6379";
    /// <summary>Longest a request waits for Redis before the policy's <c>onRedisFailure</c> applies.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>While Redis is down, one request per this interval tries it again.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Keys are <c>{keyPrefix}{policy}:{partition}</c>.</summary>
    public string KeyPrefix { get; init; } = "turnpike:rl:";
}
