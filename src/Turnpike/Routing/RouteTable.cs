using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Turnpike.Model;

namespace Turnpike.Routing;

/// <summary>
/// The compiled route table. Routes are ordered by <c>order</c>, then by specificity, then by declaration; they are
/// indexed by their literal first path segment so a lookup only walks the routes that can match.
/// </summary>
internal sealed class RouteTable
{
    private readonly FrozenDictionary<string, RouteModel[]> _byFirstSegment;
    private readonly FrozenDictionary<string, RouteModel[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly RouteModel[] _generic;

    public RouteTable(IReadOnlyList<RouteModel> routes)
    {
        var ordered = routes
            .Select((r, i) => (Route: r, Index: i))
            .OrderBy(x => x.Route.Order)
            .ThenByDescending(x => x.Route.Matcher.Specificity)
            .ThenBy(x => x.Index)
            .Select(x => x.Route)
            .ToArray();
        All = ordered;
        _generic = ordered.Where(r => r.Matcher.FirstLiteral is null).ToArray();
        var keys = ordered.Select(r => r.Matcher.FirstLiteral).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase);
        _byFirstSegment = keys.ToFrozenDictionary(
            k => k,
            k => ordered.Where(r => r.Matcher.FirstLiteral is null || string.Equals(r.Matcher.FirstLiteral, k, StringComparison.OrdinalIgnoreCase)).ToArray(),
            StringComparer.OrdinalIgnoreCase);
        _lookup = _byFirstSegment.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public IReadOnlyList<RouteModel> All { get; }

    public RouteModel? Match(HttpRequest request)
    {
        var candidates = _generic;
        if (_byFirstSegment.Count > 0)
        {
            ReadOnlySpan<char> path = request.Path.Value;
            if (path.Length > 1)
            {
                path = path[1..];
                var slash = path.IndexOf('/');
                if (slash >= 0)
                {
                    path = path[..slash];
                }

                if (_lookup.TryGetValue(path, out var indexed))
                {
                    candidates = indexed;
                }
            }
        }

        foreach (var route in candidates)
        {
            if (route.Matcher.IsMatch(request))
            {
                if (route.CapturesRouteValues)
                {
                    route.Matcher.CaptureValues(request);
                }

                return route;
            }
        }

        return null;
    }
}
