using System.Collections.Frozen;

namespace Turnpike.Identity;

/// <summary>The stable reasons an authentication fails, counted per scheme (and in <c>GET /admin/auth</c>).</summary>
internal static class AuthReasons
{
    public const string MissingCredentials = "missing_credentials";
    public const string Malformed = "malformed";
    public const string TooLarge = "too_large";
    public const string DisallowedAlgorithm = "disallowed_algorithm";
    public const string HostileHeader = "hostile_header";
    public const string BadKid = "bad_kid";
    public const string UnknownKey = "unknown_key";
    public const string KeyAlgorithmMismatch = "key_algorithm_mismatch";
    public const string BadSignature = "bad_signature";
    public const string Expired = "expired";
    public const string NotYetValid = "not_yet_valid";
    public const string MissingExpiration = "missing_expiration";
    public const string BadIssuer = "bad_issuer";
    public const string BadAudience = "bad_audience";
    public const string BadType = "bad_type";
    public const string MissingClaim = "missing_claim";
    public const string Encrypted = "encrypted";
    public const string InvalidToken = "invalid_token";
    public const string UnknownApiKey = "unknown_api_key";
    public const string Forbidden = "forbidden";
    public const string InternalError = "internal_error";
    public const string Other = "other";

    public static readonly string[] All =
    [
        MissingCredentials, Malformed, TooLarge, DisallowedAlgorithm, HostileHeader, BadKid, UnknownKey, KeyAlgorithmMismatch,
        BadSignature, Expired, NotYetValid, MissingExpiration, BadIssuer, BadAudience, BadType, MissingClaim, Encrypted,
        InvalidToken, UnknownApiKey, Forbidden, InternalError, Other,
    ];

    private static readonly FrozenDictionary<string, int> Index = All.Select((r, i) => KeyValuePair.Create(r, i)).ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The counter slot of <paramref name="reason"/>; unknown reasons count as <see cref="Other"/>.</summary>
    public static int IndexOf(string? reason) => reason is not null && Index.TryGetValue(reason, out var i) ? i : All.Length - 1;
}

/// <summary>Successes and failures by reason of one scheme; Interlocked counters, carried across reloads by scheme name.</summary>
internal sealed class AuthCounters
{
    private readonly long[] _failures = new long[AuthReasons.All.Length];
    private long _successes;

    public long Successes => Interlocked.Read(ref _successes);

    public void OnSuccess() => Interlocked.Increment(ref _successes);

    public void OnFailure(string? reason) => Interlocked.Increment(ref _failures[AuthReasons.IndexOf(reason)]);

    public long Failures(string reason) => Interlocked.Read(ref _failures[AuthReasons.IndexOf(reason)]);

    /// <summary>Non-zero failure counts by reason.</summary>
    public IReadOnlyDictionary<string, long> FailuresByReason()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < _failures.Length; i++)
        {
            var n = Interlocked.Read(ref _failures[i]);
            if (n > 0)
            {
                result[AuthReasons.All[i]] = n;
            }
        }

        return result;
    }
}
