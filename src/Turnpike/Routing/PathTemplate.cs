using Microsoft.AspNetCore.Routing;

namespace Turnpike.Routing;

/// <summary>
/// A compiled path template: literal segments (case-insensitive), "{name}" for one segment and a trailing
/// "{**name}" (or "{*name}") catch-all. Matching walks the request path as a span and allocates only when the
/// template captures values.
/// </summary>
public sealed class PathTemplate
{
    private readonly Segment[] _segments;
    private readonly string? _catchAll;

    private PathTemplate(string text, Segment[] segments, string? catchAll)
    {
        Text = text;
        _segments = segments;
        _catchAll = catchAll;
        HasParameters = catchAll is not null || Array.Exists(segments, s => s.Parameter is not null);
        LiteralSegments = segments.Count(s => s.Literal is not null);
        ParameterSegments = segments.Length - LiteralSegments;
        FirstLiteral = segments.Length > 0 ? segments[0].Literal : null;
    }

    public string Text { get; }

    public bool HasParameters { get; }

    /// <summary>Number of literal segments, for ordering more specific routes first.</summary>
    public int LiteralSegments { get; }

    /// <summary>Number of single-segment parameters (not counting a catch-all).</summary>
    public int ParameterSegments { get; }

    /// <summary>True when the template ends in a catch-all, so it matches paths of any depth below its segments.</summary>
    public bool HasCatchAll => _catchAll is not null;

    /// <summary>The first segment when it is a literal, used to index the route table.</summary>
    public string? FirstLiteral { get; }

    public static bool TryParse(string text, out PathTemplate? template, out string? error)
    {
        template = null;
        error = null;
        if (!text.StartsWith('/'))
        {
            error = $"'{text}' must start with '/'";
            return false;
        }

        var parts = text.Length == 1 ? [] : text[1..].Split('/');
        var segments = new List<Segment>(parts.Length);
        string? catchAll = null;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (part.Length == 0)
            {
                if (i == parts.Length - 1)
                {
                    break; // trailing slash is ignored
                }

                error = $"'{text}' has an empty segment";
                return false;
            }

            if (part[0] == '{')
            {
                if (part[^1] != '}' || part.Length < 3)
                {
                    error = $"'{text}': segment '{part}' must be a whole '{{name}}' parameter";
                    return false;
                }

                var inner = part[1..^1];
                var isCatchAll = inner.StartsWith('*');
                var name = inner.TrimStart('*');
                if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                {
                    error = $"'{text}': parameter '{part}' needs a name of letters, digits and '_'";
                    return false;
                }

                if (!names.Add(name))
                {
                    error = $"'{text}': parameter '{name}' appears twice";
                    return false;
                }

                if (isCatchAll)
                {
                    if (i != parts.Length - 1)
                    {
                        error = $"'{text}': catch-all '{part}' must be the last segment";
                        return false;
                    }

                    catchAll = name;
                    continue;
                }

                segments.Add(new Segment(null, name));
                continue;
            }

            if (part.Contains('{', StringComparison.Ordinal) || part.Contains('}', StringComparison.Ordinal))
            {
                error = $"'{text}': segment '{part}' mixes literal text and a parameter, which is not supported";
                return false;
            }

            segments.Add(new Segment(part, null));
        }

        template = new PathTemplate(text, segments.ToArray(), catchAll);
        return true;
    }

    /// <summary>Matches <paramref name="path"/>; when <paramref name="values"/> is given, captured parameters are added to it.</summary>
    public bool TryMatch(ReadOnlySpan<char> path, RouteValueDictionary? values)
    {
        if (path.Length == 0 || path[0] != '/')
        {
            return false;
        }

        var rest = path[1..];
        foreach (var segment in _segments)
        {
            if (rest.Length == 0)
            {
                return false;
            }

            var slash = rest.IndexOf('/');
            var current = slash < 0 ? rest : rest[..slash];
            if (segment.Literal is not null)
            {
                if (!current.Equals(segment.Literal, StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
            else
            {
                if (current.Length == 0)
                {
                    return false;
                }

                values?.Add(segment.Parameter!, current.ToString());
            }

            rest = slash < 0 ? [] : rest[(slash + 1)..];
        }

        if (_catchAll is not null)
        {
            values?.Add(_catchAll, rest.ToString());
            return true;
        }

        // Allow one trailing slash.
        return rest.Length == 0;
    }

    private readonly record struct Segment(string? Literal, string? Parameter);
}
