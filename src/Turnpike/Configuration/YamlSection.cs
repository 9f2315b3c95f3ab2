using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Turnpike.Configuration;

/// <summary>
/// Reads one YAML mapping against a fixed set of known keys, converting scalars to typed values and
/// recording every problem (with file, line, column and field path) instead of stopping at the first.
/// Works on YamlDotNet's representation model: no reflection, so it is trim- and AOT-safe.
/// </summary>
internal sealed class YamlSection
{
    private readonly ConfigErrorSink _sink;
    private readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> _fields = new(StringComparer.Ordinal);

    public YamlSection(ConfigErrorSink sink, YamlMappingNode node, string path, params string[] knownKeys)
    {
        _sink = sink;
        Node = node;
        Path = path;
        foreach (var (keyNode, value) in node.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key } scalarKey)
            {
                sink.Add(keyNode, path, "keys must be plain strings");
                continue;
            }

            if (Array.IndexOf(knownKeys, key) < 0)
            {
                var suggestion = Suggestions.Closest(key, knownKeys);
                sink.Add(keyNode, Join(path, key), suggestion is null
                    ? $"unknown key '{key}' (known keys: {string.Join(", ", knownKeys)})"
                    : $"unknown key '{key}'; did you mean '{suggestion}'?");
                continue;
            }

            _fields[key] = (scalarKey, value);
        }
    }

    public YamlMappingNode Node { get; }

    public string Path { get; }

    public ConfigErrorSink Sink => _sink;

    public bool Has(string key) => _fields.ContainsKey(key);

    public ConfigLocation Location => _sink.LocationOf(Node);

    public ConfigLocation LocationOf(string key) =>
        _fields.TryGetValue(key, out var f) ? _sink.LocationOf(f.Value) : Location;

    public YamlNode? Raw(string key) => _fields.TryGetValue(key, out var f) ? f.Value : null;

    public string FieldPath(string key) => Join(Path, key);

    public static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    public void Error(string key, string message)
    {
        if (_fields.TryGetValue(key, out var f))
        {
            _sink.Add(f.Value, FieldPath(key), message);
        }
        else
        {
            _sink.Add(Node, FieldPath(key), message);
        }
    }

    public void Require(string key)
    {
        if (!Has(key))
        {
            _sink.Add(Node, FieldPath(key), "is required");
        }
    }

    public string? String(string key, string? defaultValue = null)
    {
        if (!_fields.TryGetValue(key, out var f))
        {
            return defaultValue;
        }

        if (f.Value is YamlScalarNode scalar)
        {
            return scalar.Value ?? defaultValue;
        }

        _sink.Add(f.Value, FieldPath(key), "must be a string");
        return defaultValue;
    }

    public int Int(string key, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = Scalar(key, "an integer");
        if (text is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            Error(key, $"'{text}' is not an integer");
            return defaultValue;
        }

        if (value < min || value > max)
        {
            Error(key, $"{value} is out of range [{min}, {max}]");
            return defaultValue;
        }

        return value;
    }

    public double Double(string key, double defaultValue, double min, double max)
    {
        var text = Scalar(key, "a number");
        if (text is null)
        {
            return defaultValue;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            Error(key, $"'{text}' is not a number in [{min}, {max}]");
            return defaultValue;
        }

        return value;
    }

    public bool Bool(string key, bool defaultValue)
    {
        var text = Scalar(key, "true or false");
        if (text is null)
        {
            return defaultValue;
        }

        switch (text.ToLowerInvariant())
        {
            case "true" or "yes" or "on":
                return true;
            case "false" or "no" or "off":
                return false;
            default:
                Error(key, $"'{text}' is not a boolean (use true or false)");
                return defaultValue;
        }
    }

    /// <summary>Durations: "250ms", "10s", "5m", "1h", or a bare number of seconds. "0" disables where allowed.</summary>
    public TimeSpan Duration(string key, TimeSpan defaultValue, bool allowZero = false)
    {
        var text = Scalar(key, "a duration");
        if (text is null)
        {
            return defaultValue;
        }

        if (!TryParseDuration(text, out var value) || value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero))
        {
            Error(key, $"'{text}' is not a valid duration (examples: 250ms, 10s, 5m, 1h{(allowZero ? ", 0 to disable" : string.Empty)})");
            return defaultValue;
        }

        return value;
    }

    /// <summary>Sizes in bytes: "512", "64KiB", "10MiB", "1GiB" (KB/MB/GB are read as powers of 1024 too).</summary>
    public long Size(string key, long defaultValue, long min = 1, long max = long.MaxValue)
    {
        var text = Scalar(key, "a size");
        if (text is null)
        {
            return defaultValue;
        }

        if (!TryParseSize(text, out var value) || value < min || value > max)
        {
            Error(key, $"'{text}' is not a valid size in [{min}, {max}] bytes (examples: 8192, 64KiB, 10MiB)");
            return defaultValue;
        }

        return value;
    }

    public TEnum Enum<TEnum>(string key, TEnum defaultValue)
        where TEnum : struct, Enum
    {
        var text = Scalar(key, "a name");
        if (text is null)
        {
            return defaultValue;
        }

        if (System.Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) && !int.TryParse(text, out _))
        {
            return value;
        }

        var names = System.Enum.GetNames<TEnum>().Select(n => char.ToLowerInvariant(n[0]) + n[1..]).ToArray();
        var suggestion = Suggestions.Closest(text, names);
        Error(key, $"'{text}' is not one of: {string.Join(", ", names)}" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
        return defaultValue;
    }

    /// <summary>A scalar or a sequence of scalars.</summary>
    public IReadOnlyList<string> StringList(string key)
    {
        if (!_fields.TryGetValue(key, out var f))
        {
            return [];
        }

        switch (f.Value)
        {
            case YamlScalarNode { Value: { } single }:
                return [single];
            case YamlSequenceNode seq:
                var list = new List<string>(seq.Children.Count);
                foreach (var item in seq.Children)
                {
                    if (item is YamlScalarNode { Value: { } v })
                    {
                        list.Add(v);
                    }
                    else
                    {
                        _sink.Add(item, FieldPath(key), "items must be strings");
                    }
                }

                return list;
            default:
                _sink.Add(f.Value, FieldPath(key), "must be a string or a list of strings");
                return [];
        }
    }

    public YamlSection? Child(string key, params string[] knownKeys)
    {
        if (!_fields.TryGetValue(key, out var f))
        {
            return null;
        }

        if (f.Value is YamlMappingNode map)
        {
            return new YamlSection(_sink, map, FieldPath(key), knownKeys);
        }

        if (f.Value is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            return new YamlSection(_sink, new YamlMappingNode(), FieldPath(key), knownKeys);
        }

        _sink.Add(f.Value, FieldPath(key), "must be a mapping (key: value pairs)");
        return null;
    }

    /// <summary>A mapping of named entries (id → mapping), as used for routes, clusters and destinations.</summary>
    public IEnumerable<(string Name, YamlScalarNode KeyNode, YamlNode Value)> Entries(string key)
    {
        if (!_fields.TryGetValue(key, out var f))
        {
            yield break;
        }

        if (f.Value is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            yield break;
        }

        if (f.Value is not YamlMappingNode map)
        {
            _sink.Add(f.Value, FieldPath(key), "must be a mapping of names to entries");
            yield break;
        }

        foreach (var (k, v) in map.Children)
        {
            if (k is YamlScalarNode { Value: { Length: > 0 } name } scalar)
            {
                yield return (name, scalar, v);
            }
            else
            {
                _sink.Add(k, FieldPath(key), "entry names must be non-empty strings");
            }
        }
    }

    /// <summary>Named entries that must each be a mapping; anything else is reported with <paramref name="shapeHint"/>.</summary>
    public IEnumerable<(string Name, YamlScalarNode KeyNode, YamlMappingNode Map, string Path)> MappingEntries(string key, string shapeHint)
    {
        foreach (var (name, keyNode, value) in Entries(key))
        {
            var path = Join(FieldPath(key), name);
            if (value is YamlMappingNode map)
            {
                yield return (name, keyNode, map, path);
            }
            else
            {
                _sink.Add(value, path, $"must be a mapping with {shapeHint}");
            }
        }
    }

    public IReadOnlyList<YamlNode> Sequence(string key)
    {
        if (!_fields.TryGetValue(key, out var f))
        {
            return [];
        }

        if (f.Value is YamlSequenceNode seq)
        {
            return seq.Children.ToArray();
        }

        if (f.Value is YamlScalarNode { Value: null or "" or "~" or "null" })
        {
            return [];
        }

        _sink.Add(f.Value, FieldPath(key), "must be a list");
        return [];
    }

    private string? Scalar(string key, string what)
    {
        if (!_fields.TryGetValue(key, out var f))
        {
            return null;
        }

        if (f.Value is YamlScalarNode { Value: { Length: > 0 } text })
        {
            return text.Trim();
        }

        _sink.Add(f.Value, FieldPath(key), $"must be {what}");
        return null;
    }

    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
        {
            unitStart--;
        }

        var number = text[..unitStart];
        var unit = text[unitStart..].ToLowerInvariant();
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0 || double.IsInfinity(amount))
        {
            return false;
        }

        double? ms = unit switch
        {
            "ms" => amount,
            "" or "s" => amount * 1000,
            "m" => amount * 60_000,
            "h" => amount * 3_600_000,
            _ => null,
        };
        if (ms is null || ms > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(ms.Value);
        return true;
    }

    internal static bool TryParseSize(string text, out long value)
    {
        value = 0;
        text = text.Trim();
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
        {
            unitStart--;
        }

        if (!long.TryParse(text[..unitStart], NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        long? multiplier = text[unitStart..].ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1024,
            "m" or "mb" or "mib" => 1024 * 1024,
            "g" or "gb" or "gib" => 1024L * 1024 * 1024,
            _ => null,
        };
        if (multiplier is null || amount > long.MaxValue / multiplier.Value)
        {
            return false;
        }

        value = amount * multiplier.Value;
        return true;
    }
}

/// <summary>Collects configuration errors for one file.</summary>
internal sealed class ConfigErrorSink(string file)
{
    public string File { get; } = file;

    public List<ConfigError> Errors { get; } = [];

    public ConfigLocation LocationOf(YamlNode node) => new(File, (int)node.Start.Line, (int)node.Start.Column);

    public void Add(YamlNode node, string field, string message) =>
        Errors.Add(new ConfigError(File, (int)node.Start.Line, (int)node.Start.Column, field, message));

    public void Add(ConfigLocation location, string field, string message) =>
        Errors.Add(new ConfigError(location.File, location.Line, location.Column, field, message));
}
