using System.Globalization;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>A scraped Prometheus text exposition, parsed into samples (name, labels, value) for assertions.</summary>
public sealed class PrometheusText
{
    private PrometheusText(string text, List<(string Name, Dictionary<string, string> Labels, double Value)> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyList<(string Name, Dictionary<string, string> Labels, double Value)> Samples { get; }

    public static async Task<PrometheusText> ScrapeAsync(HttpClient client, Uri url)
    {
        using var response = await client.GetAsync(url);
        response.EnsureSuccessStatusCode();
        return Parse(await response.Content.ReadAsStringAsync());
    }

    public static PrometheusText Parse(string text)
    {
        var samples = new List<(string, Dictionary<string, string>, double)>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            string name;
            string rest;
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            if (brace >= 0)
            {
                name = line[..brace];
                var i = brace + 1;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var key = line[i..eq].Trim(',', ' ');
                    var value = new System.Text.StringBuilder();
                    var j = eq + 2; // skip ="
                    while (line[j] != '"')
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }

                        j++;
                    }

                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }

                rest = line[(i + 1)..].Trim();
            }
            else
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                name = line[..space];
                rest = line[(space + 1)..].Trim();
            }

            var valueText = rest.Split(' ')[0];
            samples.Add((name, labels, valueText switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(valueText, CultureInfo.InvariantCulture),
            }));
        }

        return new PrometheusText(text, samples);
    }

    /// <summary>The value of the one sample named <paramref name="name"/> whose labels include all of <paramref name="labels"/> (0 when none).</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var matches = Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        Assert.True(matches.Count <= 1, $"{matches.Count} samples of {name} match {string.Join(",", labels)}");
        return matches.Count == 0 ? 0 : matches[0].Value;
    }

    /// <summary>All samples named <paramref name="name"/> (any labels).</summary>
    public IEnumerable<(string Name, Dictionary<string, string> Labels, double Value)> All(string name) => Samples.Where(s => s.Name == name);
}
