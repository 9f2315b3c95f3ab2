using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Turnpike.Configuration;

namespace Turnpike.Cors;

/// <summary>
/// One <c>corsPolicies</c> entry at run time, built once at config load and shared by the routes that name it. Every
/// response header value is precomputed as <see cref="StringValues"/>; the request path only looks up the origin, the
/// requested method and the requested header names, and echoes the request's own <c>Origin</c> (never a list).
/// </summary>
/// <remarks>
/// The gateway owns CORS on a route with a policy: whatever <c>Access-Control-*</c> response headers the upstream
/// sends are removed and the policy's own are written (as Envoy's CORS filter does), so a backend cannot widen the
/// policy by accident.
/// </remarks>
internal sealed class CorsPolicy
{
    private static readonly StringValues True = "true";
    private static readonly StringValues AnyOrigin = "*";
    private static readonly StringValues VaryOrigin = HeaderNames.Origin;
    private static readonly StringValues VaryPreflight = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

    private readonly OriginMatcher _origins;
    private readonly bool _credentials;
    private readonly bool _anyMethod;
    private readonly FrozenSet<string> _methods;
    private readonly bool _anyHeader;
    private readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> _headers;
    private readonly StringValues _allowMethods;
    private readonly StringValues _allowHeaders;
    private readonly StringValues _exposeHeaders;
    private readonly StringValues _maxAge;

    public CorsPolicy(CorsPolicyConfig config)
    {
        Name = config.Name;
        var patterns = new List<OriginPattern>(config.Origins.Count);
        foreach (var origin in config.Origins)
        {
            if (OriginPattern.TryParse(origin, out var pattern, out _))
            {
                patterns.Add(pattern);
            }
        }

        _origins = new OriginMatcher(patterns);
        _credentials = config.Credentials;
        // With '*' and no credentials the answer is the same for every origin: "*", cacheable without Vary.
        EchoesOrigin = !_origins.AllowsAny || _credentials;
        _anyMethod = config.Methods.Contains("*");
        _methods = config.Methods.ToFrozenSet(StringComparer.Ordinal);
        _allowMethods = _anyMethod ? StringValues.Empty : string.Join(", ", config.Methods);
        _anyHeader = config.Headers.Contains("*");
        _headers = config.Headers.ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();
        _allowHeaders = _anyHeader || config.Headers.Count == 0 ? StringValues.Empty : string.Join(", ", config.Headers);
        _exposeHeaders = config.ExposeHeaders.Count == 0 ? StringValues.Empty : string.Join(", ", config.ExposeHeaders);
        _maxAge = config.MaxAge is { } maxAge ? ((long)maxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture) : StringValues.Empty;
    }

    public string Name { get; }

    /// <summary>Whether the answer depends on the request's origin (then every response says <c>Vary: Origin</c>).</summary>
    public bool EchoesOrigin { get; }

    /// <summary>The JSON body of a refused preflight, as the gateway's other own answers.</summary>
    public static ReadOnlyMemory<byte> RejectedBody { get; } =
        Encoding.UTF8.GetBytes("{\"status\":403,\"error\":\"cors_rejected\",\"message\":\"The CORS policy of this route does not allow this origin, method or header.\"}");

    public const string RejectedReason = "cors_rejected";

    /// <summary>
    /// A CORS preflight: OPTIONS with <c>Origin</c> and <c>Access-Control-Request-Method</c>. A plain OPTIONS request
    /// (no <c>Access-Control-Request-Method</c>) is an ordinary request for the upstream.
    /// </summary>
    public static bool IsPreflight(HttpRequest request) =>
        HttpMethods.IsOptions(request.Method) && request.Headers.Origin.Count > 0 && request.Headers.AccessControlRequestMethod.Count > 0;

    /// <summary>Whether the preflight may proceed: the origin, the method and every requested header are allowed.</summary>
    public PreflightVerdict Evaluate(IHeaderDictionary requestHeaders)
    {
        var origin = requestHeaders.Origin;
        if (origin.Count != 1 || !_origins.IsAllowed(origin[0]))
        {
            return PreflightVerdict.OriginNotAllowed;
        }

        var method = requestHeaders.AccessControlRequestMethod;
        if (method.Count != 1 || (!_anyMethod && !_methods.Contains(method[0]!)))
        {
            return PreflightVerdict.MethodNotAllowed;
        }

        if (!_anyHeader)
        {
            foreach (var list in requestHeaders.AccessControlRequestHeaders)
            {
                if (!AllHeadersAllowed(list))
                {
                    return PreflightVerdict.HeaderNotAllowed;
                }
            }
        }

        return PreflightVerdict.Allowed;
    }

    /// <summary>The headers of an allowed preflight's 204.</summary>
    public void WritePreflightHeaders(IHeaderDictionary requestHeaders, IHeaderDictionary responseHeaders)
    {
        responseHeaders.AccessControlAllowOrigin = EchoesOrigin ? requestHeaders.Origin : AnyOrigin;
        if (_credentials)
        {
            responseHeaders.AccessControlAllowCredentials = True;
        }

        // "*" policies echo what was asked: a literal "*" would not cover Authorization, nor anything with credentials.
        responseHeaders.AccessControlAllowMethods = _anyMethod ? requestHeaders.AccessControlRequestMethod : _allowMethods;
        var allowHeaders = _anyHeader ? requestHeaders.AccessControlRequestHeaders : _allowHeaders;
        if (allowHeaders.Count > 0)
        {
            responseHeaders.AccessControlAllowHeaders = allowHeaders;
        }

        if (_maxAge.Count > 0)
        {
            responseHeaders.AccessControlMaxAge = _maxAge;
        }

        responseHeaders.Vary = VaryPreflight;
    }

    /// <summary>The <c>Vary</c> of a refused preflight (it, too, depends on what was asked).</summary>
    public static void WriteRejectedHeaders(IHeaderDictionary responseHeaders) => responseHeaders.Vary = VaryPreflight;

    /// <summary>
    /// Just before an actual request's response starts, whoever wrote it (the upstream or the gateway itself): the
    /// upstream's <c>Access-Control-*</c> headers go, and an allowed origin gets the policy's.
    /// </summary>
    public void ApplyToResponse(IHeaderDictionary requestHeaders, IHeaderDictionary responseHeaders)
    {
        RemoveUpstreamHeaders(responseHeaders);
        if (EchoesOrigin)
        {
            AddVaryOrigin(responseHeaders);
        }

        var origin = requestHeaders.Origin;
        if (origin.Count != 1 || !_origins.IsAllowed(origin[0]))
        {
            return;
        }

        responseHeaders.AccessControlAllowOrigin = EchoesOrigin ? origin : AnyOrigin;
        if (_credentials)
        {
            responseHeaders.AccessControlAllowCredentials = True;
        }

        if (_exposeHeaders.Count > 0)
        {
            responseHeaders.AccessControlExposeHeaders = _exposeHeaders;
        }
    }

    private static void RemoveUpstreamHeaders(IHeaderDictionary headers)
    {
        headers.Remove(HeaderNames.AccessControlAllowOrigin);
        headers.Remove(HeaderNames.AccessControlAllowCredentials);
        headers.Remove(HeaderNames.AccessControlExposeHeaders);
        headers.Remove(HeaderNames.AccessControlAllowMethods);
        headers.Remove(HeaderNames.AccessControlAllowHeaders);
        headers.Remove(HeaderNames.AccessControlMaxAge);
    }

    private static void AddVaryOrigin(IHeaderDictionary headers)
    {
        var vary = headers.Vary;
        if (vary.Count == 0)
        {
            headers.Vary = VaryOrigin;
            return;
        }

        foreach (var value in vary)
        {
            if (value is not null && ContainsToken(value, HeaderNames.Origin))
            {
                return;
            }
        }

        // The upstream varies on something else too (Accept-Encoding, say): keep it and add ours.
        headers.Vary = StringValues.Concat(vary, VaryOrigin);
    }

    /// <summary>Every name in a comma-separated <c>Access-Control-Request-Headers</c> value is allowed.</summary>
    private bool AllHeadersAllowed(ReadOnlySpan<char> list)
    {
        foreach (var range in list.Split(','))
        {
            var name = list[range].Trim(" \t");
            if (name.Length > 0 && !_headers.Contains(name))
            {
                return false;
            }
        }

        return true;
    }

    private static bool ContainsToken(string list, string token)
    {
        var span = list.AsSpan();
        foreach (var range in span.Split(','))
        {
            var item = span[range].Trim(" \t");
            if (item.Equals(token, StringComparison.OrdinalIgnoreCase) || item is "*")
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>What a preflight asked for that the policy does not allow (or that it allows it all).</summary>
internal enum PreflightVerdict
{
    Allowed,
    OriginNotAllowed,
    MethodNotAllowed,
    HeaderNotAllowed,
}
