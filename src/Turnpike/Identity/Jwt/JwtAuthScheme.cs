using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Turnpike.Configuration;

namespace Turnpike.Identity.Jwt;

/// <summary>
/// A JWT bearer scheme. Per request: the Authorization header's token, capped in length; a hit in the
/// <see cref="TokenCache"/> answers synchronously without parsing. On a miss: <see cref="JwtHeaderGuard"/> rejects
/// hostile headers, the key comes from the scheme's <see cref="SigningKeySource"/> by kid and must fit the token's alg
/// (RSA ↔ RS/PS, EC curve ↔ ES, secret ↔ HS), then Microsoft.IdentityModel's <see cref="JsonWebTokenHandler"/>
/// checks signature, issuer, audience, lifetime (with clock skew) and typ against parameters built once at load.
/// </summary>
internal sealed class JwtAuthScheme : IAuthScheme, IDisposable
{
    private const string BearerPrefix = "Bearer ";

    private readonly JwtSchemeConfig _config;
    private readonly SigningKeySource _keys;
    private readonly TokenCache? _cache;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly string[] _algorithms;
    private readonly string[] _requiredClaims;

    public JwtAuthScheme(string name, JwtSchemeConfig config, SigningKeySource keys, TimeProvider time)
    {
        Name = name;
        _config = config;
        _keys = keys;
        _algorithms = [.. config.Algorithms];
        _requiredClaims = [.. config.RequiredClaims];
        _cache = config.TokenCacheMaxEntries > 0 ? new TokenCache(config.TokenCacheMaxEntries, config.TokenCacheTtl, time) : null;
        Challenge = $"Bearer realm=\"{config.Realm}\"";
        InvalidTokenChallenge = $"Bearer realm=\"{config.Realm}\", error=\"invalid_token\"";
        _parameters = new TokenValidationParameters
        {
            ValidateIssuer = config.Issuer is not null,
            ValidIssuer = config.Issuer,
            ValidateAudience = config.Audiences.Count > 0,
            ValidAudiences = config.Audiences,
            ValidAlgorithms = config.Algorithms,
            ValidateLifetime = true,
            RequireExpirationTime = config.RequireExpiration,
            ClockSkew = config.ClockSkew,
            RequireSignedTokens = true,
            ValidTypes = config.ValidTypes.Count > 0 ? config.ValidTypes : null,
            TryAllIssuerSigningKeys = false,
            ValidateIssuerSigningKey = false,
            IssuerSigningKeyResolver = ResolveKey,
            NameClaimType = "sub",
            RoleClaimType = "roles",
            SaveSigninToken = false,
        };
    }

    public string Name { get; }

    public string Challenge { get; }

    /// <summary>The challenge sent when a token was present but not accepted (RFC 6750 §3.1).</summary>
    public string InvalidTokenChallenge { get; }

    public SigningKeySource Keys => _keys;

    public TokenCache? Cache => _cache;

    public ValueTask<AuthResult> AuthenticateAsync(HttpContext context)
    {
        var values = context.Request.Headers.Authorization;
        if (values.Count == 0)
        {
            return new(AuthResult.None);
        }

        var header = values[0];
        if (header is null || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return new(AuthResult.None); // Basic, ApiKey …: another scheme's credentials
        }

        if (values.Count > 1)
        {
            return new(AuthResult.Fail(AuthReasons.Malformed));
        }

        var token = header.AsSpan(BearerPrefix.Length).Trim();
        if (token.Length == 0)
        {
            return new(AuthResult.Fail(AuthReasons.Malformed));
        }

        if (token.Length > _config.MaxTokenLength)
        {
            return new(AuthResult.Fail(AuthReasons.TooLarge));
        }

        var keys = _keys.Current;
        if (_cache is not null && _cache.TryGet(token, keys, out var principal))
        {
            return new(AuthResult.Ok(principal!));
        }

        return ValidateAsync(token.ToString(), keys);
    }

    private async ValueTask<AuthResult> ValidateAsync(string token, SigningKeySet keys)
    {
        var rejected = JwtHeaderGuard.Check(token, _algorithms, out var header);
        if (rejected is not null)
        {
            return AuthResult.Fail(rejected);
        }

        var key = keys.Find(header.Kid, header.Alg);
        if (key is null)
        {
            keys = await _keys.RefreshForUnknownKeyAsync().ConfigureAwait(false);
            key = keys.Find(header.Kid, header.Alg);
            if (key is null)
            {
                return AuthResult.Fail(AuthReasons.UnknownKey);
            }
        }

        if (!key.Accepts(header.Alg))
        {
            return AuthResult.Fail(AuthReasons.KeyAlgorithmMismatch);
        }

        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return AuthResult.Fail(AuthReasons.Malformed);
        }

        var result = await _handler.ValidateTokenAsync(jwt, _parameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return AuthResult.Fail(ReasonOf(result.Exception));
        }

        foreach (var claim in _requiredClaims)
        {
            if (!jwt.TryGetClaim(claim, out _))
            {
                return AuthResult.Fail(AuthReasons.MissingClaim);
            }
        }

        var principal = new GatewayPrincipal(result.ClaimsIdentity);
        _cache?.Add(token, principal, jwt.ValidTo == DateTime.MinValue ? null : new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero), keys, header.Kid);
        return AuthResult.Ok(principal);
    }

    /// <summary>The library asks for the token's key: the same one the pre-check found, still fitting the token's alg.</summary>
    private IEnumerable<SecurityKey> ResolveKey(string token, SecurityToken securityToken, string kid, TokenValidationParameters parameters)
    {
        var alg = (securityToken as JsonWebToken)?.Alg;
        if (alg is null)
        {
            return [];
        }

        var key = _keys.Current.Find(string.IsNullOrEmpty(kid) ? null : kid, alg);
        return key is not null && key.Accepts(alg) ? key.AsArray : [];
    }

    internal static string ReasonOf(Exception? ex) => ex switch
    {
        SecurityTokenExpiredException => AuthReasons.Expired,
        SecurityTokenNotYetValidException => AuthReasons.NotYetValid,
        SecurityTokenNoExpirationException => AuthReasons.MissingExpiration,
        SecurityTokenInvalidIssuerException => AuthReasons.BadIssuer,
        SecurityTokenInvalidAudienceException => AuthReasons.BadAudience,
        SecurityTokenInvalidTypeException => AuthReasons.BadType,
        SecurityTokenInvalidAlgorithmException => AuthReasons.DisallowedAlgorithm,
        // The key was found before the library ran, so "key not found" from it means no key verified the signature.
        SecurityTokenInvalidSignatureException => AuthReasons.BadSignature,
        SecurityTokenMalformedException => AuthReasons.Malformed,
        _ => AuthReasons.InvalidToken,
    };

    public void Dispose() => _keys.Dispose();
}
