using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;
using Turnpike.Configuration;

namespace Turnpike.Routing;

/// <summary>All the conditions of one route, compiled at config load. Checks are ordered cheapest first.</summary>
internal sealed class RouteMatcher
{
    private readonly PathTemplate? _template;
    private readonly string? _prefix;
    private readonly HostMatcher? _hosts;
    private readonly string[] _methods;
    private readonly ValueRule[] _headers;
    private readonly ValueRule[] _query;

    private readonly bool _corsPreflight;

    /// <param name="config">The route's <c>match</c>.</param>
    /// <param name="corsPreflight">The route has a CORS policy: a preflight (OPTIONS) matches its <c>methods</c> by the
    /// method it asks for in <c>Access-Control-Request-Method</c>, so the gateway can answer it.</param>
    public RouteMatcher(RouteMatchConfig config, bool corsPreflight = false)
    {
        _corsPreflight = corsPreflight;
        if (config.Path is not null)
        {
            PathTemplate.TryParse(config.Path, out _template, out _);
        }

        _prefix = config.PathPrefix is "/" ? null : config.PathPrefix;
        _hosts = config.Hosts.Count > 0 ? new HostMatcher(config.Hosts) : null;
        _methods = config.Methods.Select(m => HttpMethods.GetCanonicalizedValue(m)).ToArray();
        _headers = config.Headers.Select(h => new ValueRule(h.Name, h.Values.ToArray(), h.Mode, h.CaseSensitive)).ToArray();
        _query = config.Query.Select(q => new ValueRule(q.Name, q.Values.ToArray(), q.Mode, q.CaseSensitive)).ToArray();

        FirstLiteral = _template?.FirstLiteral ?? FirstSegment(_prefix);
        Specificity = PathSpecificity(_template, _prefix) * 64
            + (_hosts is null ? 0 : 16) + (_methods.Length > 0 ? 8 : 0) + Math.Min(7, _headers.Length + _query.Length);
    }

    /// <summary>The literal first path segment every match must start with, or null when any path can match.</summary>
    public string? FirstLiteral { get; }

    public int Specificity { get; }

    public bool CapturesValues => _template?.HasParameters == true;

    public bool IsMatch(HttpRequest request)
    {
        if (_methods.Length > 0 && !MatchMethod(request.Method) && !(_corsPreflight && MatchPreflightMethod(request)))
        {
            return false;
        }

        var path = request.Path.Value ?? "/";
        if (_template is not null && !_template.TryMatch(path, null))
        {
            return false;
        }

        if (_prefix is not null && !MatchPrefix(path, _prefix))
        {
            return false;
        }

        if (_hosts is not null)
        {
            var host = request.Host;
            if (!host.HasValue || !_hosts.IsMatch(host.Host, host.Port))
            {
                return false;
            }
        }

        foreach (var rule in _headers)
        {
            if (!rule.IsMatch(request.Headers[rule.Name]))
            {
                return false;
            }
        }

        foreach (var rule in _query)
        {
            if (!rule.IsMatch(request.Query[rule.Name]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Fills the request's route values from the path template (only for templates with parameters).</summary>
    public void CaptureValues(HttpRequest request)
    {
        var values = new RouteValueDictionary();
        _template!.TryMatch(request.Path.Value ?? "/", values);
        request.RouteValues = values;
    }

    private bool MatchMethod(string method)
    {
        foreach (var m in _methods)
        {
            if (ReferenceEquals(m, method) || string.Equals(m, method, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Only reached when the method did not match, on routes with a CORS policy.</summary>
    private bool MatchPreflightMethod(HttpRequest request) =>
        Cors.CorsPolicy.IsPreflight(request) && request.Headers.AccessControlRequestMethod is { Count: 1 } requested && MatchMethod(requested[0]!);

    internal static bool MatchPrefix(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (path.Length == prefix.Length || path[prefix.Length] == '/');

    /// <summary>
    /// How narrowly the path condition matches: 4 per literal segment, 2 per parameter segment, and 1 more for a
    /// template that matches an exact depth (no catch-all). A prefix counts as literal segments followed by a
    /// catch-all. So "/users/{id}" (7) beats "/users" as a prefix (4), and "/api/v2" as a prefix (8) beats "/api/{**rest}" (4).
    /// </summary>
    internal static int PathSpecificity(PathTemplate? template, string? prefix)
    {
        if (template is not null)
        {
            return (template.LiteralSegments * 4) + (template.ParameterSegments * 2) + (template.HasCatchAll ? 0 : 1);
        }

        return prefix is null ? 0 : prefix.Count(c => c == '/') * 4;
    }

    private static string? FirstSegment(string? prefix)
    {
        if (prefix is null || prefix.Length < 2)
        {
            return null;
        }

        var slash = prefix.IndexOf('/', 1);
        // A prefix like "/api" has first segment "api"; "/api/v1" has "api".
        return slash < 0 ? prefix[1..] : prefix[1..slash];
    }

    private sealed class ValueRule(string name, string[] values, ValueMatchMode mode, bool caseSensitive)
    {
        private readonly StringComparison _comparison = caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;

        public string Name { get; } = name;

        public bool IsMatch(StringValues actual)
        {
            switch (mode)
            {
                case ValueMatchMode.Exists:
                    return actual.Count > 0;
                case ValueMatchMode.NotExists:
                    return actual.Count == 0;
            }

            foreach (var a in actual)
            {
                if (a is null)
                {
                    continue;
                }

                foreach (var v in values)
                {
                    var ok = mode switch
                    {
                        ValueMatchMode.Exact => a.Equals(v, _comparison),
                        ValueMatchMode.Prefix => a.StartsWith(v, _comparison),
                        ValueMatchMode.Contains => a.Contains(v, _comparison),
                        _ => false,
                    };
                    if (ok)
                    {
                        return true;
                    }
                }
            }

            return false;
        }
    }
}
