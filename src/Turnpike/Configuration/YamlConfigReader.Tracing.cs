namespace Turnpike.Configuration;

/// <summary>The <c>tracing</c> section.</summary>
public static partial class YamlConfigReader
{
    private static readonly string[] TracingKeys = ["enabled", "samplingRatio", "serviceName", "otlp"];
    private static readonly string[] OtlpKeys = ["endpoint", "protocol", "timeout"];

    private static TracingConfig ReadTracing(YamlSection? s)
    {
        var d = new TracingConfig();
        if (s is null)
        {
            return d;
        }

        var otlp = d.Otlp;
        if (s.Child("otlp", OtlpKeys) is { } o)
        {
            var endpoint = o.String("endpoint", otlp.Endpoint)!;
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                o.Error("endpoint", $"'{endpoint}' is not an absolute http:// or https:// URL (example: http://127.0.0.1:4317)");
            }

            otlp = new OtlpConfig
            {
                Endpoint = endpoint,
                Protocol = o.Enum("protocol", otlp.Protocol),
                Timeout = o.Duration("timeout", otlp.Timeout),
            };
        }

        var serviceName = s.String("serviceName", d.ServiceName)!;
        if (string.IsNullOrWhiteSpace(serviceName))
        {
            s.Error("serviceName", "must not be empty");
        }

        return new TracingConfig
        {
            Enabled = s.Bool("enabled", true),
            SamplingRatio = s.Double("samplingRatio", d.SamplingRatio, 0, 1),
            ServiceName = serviceName,
            Otlp = otlp,
        };
    }
}
