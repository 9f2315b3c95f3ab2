using Turnpike.Cors;
using YamlDotNet.RepresentationModel;

namespace Turnpike.Configuration;

/// <summary>The top-level <c>corsPolicies</c> section and the routes' <c>cors</c> references.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] CorsPolicyKeys = ["origins", "methods", "headers", "exposeHeaders", "credentials", "maxAge"];
    private static readonly string[] StandardMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"];
    /// <summary>Firefox caches a preflight for at most 24 hours (Chromium for 2); a longer value only misleads.</summary>
    private static readonly TimeSpan MaxCorsMaxAge = TimeSpan.FromHours(24);

    /// <summary>Reads <c>corsPolicies</c> and checks every route's <c>cors</c> against them.</summary>
    private static GatewayConfig ReadCors(YamlSection top, GatewayConfig config)
    {
        var policies = new List<CorsPolicyConfig>();
        foreach (var (name, keyNode, map, path) in top.MappingEntries("corsPolicies", "origins, methods and headers"))
        {
            var s = new YamlSection(top.Sink, map, path, CorsPolicyKeys);
            policies.Add(ReadCorsPolicy(s, name, top.Sink.LocationOf(keyNode)));
        }

        CheckRouteCors(top, policies);
        return config with { CorsPolicies = policies };
    }

    private static CorsPolicyConfig ReadCorsPolicy(YamlSection s, string name, ConfigLocation location)
    {
        s.Require("origins");
        var credentials = s.Bool("credentials", false);
        var origins = new List<string>();
        foreach (var (text, node) in ListItems(s, "origins"))
        {
            if (!OriginPattern.TryParse(text, out var pattern, out var error))
            {
                s.Sink.Add(node, s.FieldPath("origins"), $"'{text}': {error}");
                continue;
            }

            if (pattern.Kind == OriginPatternKind.Any && credentials)
            {
                s.Sink.Add(node, s.FieldPath("origins"),
                    "'*' cannot be combined with credentials: true (the Fetch standard forbids it); list the origins, or use wildcards as https://*.example.com");
            }

            var canonical = pattern.ToString();
            if (!origins.Contains(canonical))
            {
                origins.Add(canonical);
            }
        }

        if (s.Has("origins") && origins.Count == 0 && s.Raw("origins") is not YamlSequenceNode { Children.Count: > 0 })
        {
            s.Error("origins", "a policy needs at least one origin (or \"*\" for any)");
        }

        var methods = new List<string>();
        foreach (var (text, node) in ListItems(s, "methods"))
        {
            var method = text.Trim();
            if (method == "*" || StandardMethods.Contains(method) || (method.Length > 0 && IsToken(method) && method.All(c => !char.IsAsciiLetterLower(c)) && Suggestions.Closest(method, StandardMethods) is null))
            {
                if (!methods.Contains(method))
                {
                    methods.Add(method);
                }

                continue;
            }

            var suggestion = Suggestions.Closest(method, StandardMethods);
            s.Sink.Add(node, s.FieldPath("methods"), $"'{method}' is not an HTTP method (methods are case-sensitive: GET, POST, PUT, DELETE, PATCH …)"
                + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
        }

        var headers = ReadHeaderNames(s, "headers");
        var exposeHeaders = ReadHeaderNames(s, "exposeHeaders");
        if (credentials && headers.Contains("*"))
        {
            s.Error("headers", "'*' cannot be combined with credentials: true; list the request headers the browser may send");
        }

        if (credentials && exposeHeaders.Contains("*"))
        {
            s.Error("exposeHeaders", "'*' cannot be combined with credentials: true (browsers then read it as a header named '*'); list the headers");
        }

        TimeSpan? maxAge = null;
        if (s.Has("maxAge"))
        {
            var value = s.Duration("maxAge", TimeSpan.Zero, allowZero: true);
            if (value > MaxCorsMaxAge)
            {
                s.Error("maxAge", "must not exceed 24h (browsers cap the preflight cache: Firefox at 24h, Chromium at 2h)");
                value = MaxCorsMaxAge;
            }

            maxAge = TimeSpan.FromSeconds(Math.Floor(value.TotalSeconds));
        }

        return new CorsPolicyConfig
        {
            Name = name,
            Origins = origins,
            Methods = s.Has("methods") ? methods : CorsPolicyConfig.DefaultMethods,
            Headers = headers,
            ExposeHeaders = exposeHeaders,
            Credentials = credentials,
            MaxAge = maxAge,
            Location = location,
        };
    }

    /// <summary>Header names (or <c>*</c>), lower case, each checked to be an HTTP token.</summary>
    private static List<string> ReadHeaderNames(YamlSection s, string key)
    {
        var names = new List<string>();
        foreach (var (text, node) in ListItems(s, key))
        {
            var name = text.Trim().ToLowerInvariant();
            if (name != "*" && (name.Length == 0 || !IsToken(name)))
            {
                s.Sink.Add(node, s.FieldPath(key), $"'{text}' is not a header name");
                continue;
            }

            if (!names.Contains(name))
            {
                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>The items of a scalar-or-list key with their nodes, so an error can point at the item itself.</summary>
    private static List<(string Text, YamlNode Node)> ListItems(YamlSection s, string key)
    {
        var items = new List<(string, YamlNode)>();
        switch (s.Raw(key))
        {
            case null:
                break;
            case YamlScalarNode { Value: { Length: > 0 } single } scalar:
                items.Add((single, scalar));
                break;
            case YamlSequenceNode seq:
                foreach (var item in seq.Children)
                {
                    if (item is YamlScalarNode { Value: { Length: > 0 } v })
                    {
                        items.Add((v, item));
                    }
                    else
                    {
                        s.Sink.Add(item, s.FieldPath(key), "items must be non-empty strings");
                    }
                }

                break;
            case var other:
                s.Sink.Add(other, s.FieldPath(key), "must be a string or a list of strings");
                break;
        }

        return items;
    }

    /// <summary>Each route's <c>cors</c> names a defined policy.</summary>
    private static void CheckRouteCors(YamlSection top, List<CorsPolicyConfig> policies)
    {
        if (top.Raw("routes") is not YamlMappingNode routeMap)
        {
            return;
        }

        var names = policies.Select(p => p.Name).ToArray();
        foreach (var (keyNode, value) in routeMap.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } id } || value is not YamlMappingNode map
                || !map.Children.TryGetValue(new YamlScalarNode("cors"), out var node)
                || node is not YamlScalarNode { Value: { } name })
            {
                continue; // not a string: ReadRoutes reported it
            }

            if (!names.Contains(name, StringComparer.Ordinal))
            {
                var suggestion = Suggestions.Closest(name, names);
                top.Sink.Add(node, $"routes.{id}.cors", $"CORS policy '{name}' is not defined in corsPolicies"
                    + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
            }
        }
    }
}
