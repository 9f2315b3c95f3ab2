using Turnpike.Identity.ApiKeys;
using Turnpike.Identity.Jwt;
using Turnpike.Model;

namespace Turnpike.Admin;

/// <summary><c>GET /admin/auth</c>: every auth scheme's successes, failures by reason, key source and token cache.</summary>
internal sealed record AuthResponse(long Generation, IReadOnlyList<AuthSchemeStatus> Schemes)
{
    public static AuthResponse Describe(GatewaySnapshot snapshot)
    {
        var list = new List<AuthSchemeStatus>();
        foreach (var config in snapshot.Config.AuthSchemes)
        {
            var entry = snapshot.Identity.Schemes[config.Name];
            KeySourceStatus? keys = null;
            TokenCacheStatus? cache = null;
            if (entry.Scheme is JwtAuthScheme jwt)
            {
                var set = jwt.Keys.Current;
                keys = jwt.Keys is JwksKeySource remote
                    ? new KeySourceStatus(set.Count, [.. set.KeyIds], remote.Fetches, remote.FetchFailures, remote.RateLimitedRefreshes, !remote.IsDown, remote.LastSuccess, remote.LastError)
                    : new KeySourceStatus(set.Count, [.. set.KeyIds], 0, 0, 0, true, null, null);
                cache = jwt.Cache is { } c ? new TokenCacheStatus(c.Count, c.Hits, c.Misses) : null;
            }

            var apiKeys = entry.Scheme is ApiKeyAuthScheme api ? api.KeyCount : (int?)null;
            list.Add(new AuthSchemeStatus(config.Name, config.Type.ToString(), entry.Counters.Successes, entry.Counters.FailuresByReason(), keys, cache, apiKeys));
        }

        return new AuthResponse(snapshot.Generation, list);
    }
}

internal sealed record AuthSchemeStatus(
    string Name,
    string Type,
    long Successes,
    IReadOnlyDictionary<string, long> Failures,
    KeySourceStatus? Keys,
    TokenCacheStatus? TokenCache,
    int? ApiKeys);

/// <summary>A JWT scheme's keys: how many, their kids, and (remote sources) fetches, failures and refreshes refused by the rate limit.</summary>
internal sealed record KeySourceStatus(int Count, IReadOnlyList<string> KeyIds, long Fetches, long FetchFailures, long RateLimitedRefreshes, bool Up, DateTimeOffset? LastSuccess, string? LastError);

internal sealed record TokenCacheStatus(int Entries, long Hits, long Misses);
