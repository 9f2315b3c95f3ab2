using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class YamlConfigReaderTests
{
    private const string Valid = """
        listeners:
          public:
            address: 127.0.0.1
            port: 8080
            protocols: http2
        server:
          drainTimeout: 5s
          limits:
            maxRequestBodySize: 1MiB
            requestHeadersTimeout: 250ms
        routes:
          api:
            order: 2
            match:
              path: /api/{id}/{**rest}
              hosts: ["*.example.com", "example.com:8080"]
              methods: [GET, POST]
              headers:
                - name: x-version
                  values: [v2]
              query:
                - name: debug
                  mode: exists
            cluster: backend
            transforms:
              - pathRemovePrefix: /api
              - requestHeader: x-a
                set: b
        clusters:
          backend:
            destinations:
              d1: http://127.0.0.1:5000
              d2: { address: "http://127.0.0.1:5001", weight: 3, health: /healthz }
            http:
              version: "2"
              connectTimeout: 2s
              requestTimeout: 0
            healthCheck:
              active: { path: /ready }
        """;

    [Fact]
    public void ReadsEverySection()
    {
        var result = YamlConfigReader.Read(Valid, "t.yaml");
        Assert.Empty(result.Errors);
        var config = result.Config!;

        var listener = Assert.Single(config.Listeners);
        Assert.Equal(("public", 8080, ListenerProtocols.Http2), (listener.Name, listener.Port, listener.Protocols));
        Assert.Equal(TimeSpan.FromSeconds(5), config.Server.DrainTimeout);
        Assert.Equal(1024 * 1024, config.Server.Limits.MaxRequestBodySize);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.Server.Limits.RequestHeadersTimeout);

        var route = Assert.Single(config.Routes);
        Assert.Equal(("api", 2, "backend"), (route.Id, route.Order, route.Cluster));
        Assert.Equal("/api/{id}/{**rest}", route.Match.Path);
        Assert.Equal(["*.example.com", "example.com:8080"], route.Match.Hosts);
        Assert.Equal(["GET", "POST"], route.Match.Methods);
        Assert.Equal(ValueMatchMode.Exact, route.Match.Headers[0].Mode);
        Assert.Equal(ValueMatchMode.Exists, route.Match.Query[0].Mode);
        Assert.Equal(2, route.Transforms.Count);
        Assert.Equal("/api", route.Transforms[0]["PathRemovePrefix"]);
        Assert.Equal("b", route.Transforms[1]["Set"]);

        var cluster = Assert.Single(config.Clusters);
        Assert.Equal(2, cluster.Destinations.Count);
        Assert.Equal(3, cluster.Destinations[1].Weight);
        Assert.Equal("/healthz", cluster.Destinations[1].Health);
        Assert.Equal("2", cluster.Http.Version);
        Assert.Equal(TimeSpan.Zero, cluster.Http.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), cluster.Http.ConnectTimeout);
    }

    [Fact]
    public void ReportsEveryErrorWithLineColumnAndField()
    {
        const string yaml = """
            listeners:
              public:
                port: 8080
                protocol: http2
            routes:
              api:
                match:
                  pathPrefix: /api
                cluster: backedn
            clusters:
              backend:
                destinations:
                  d1: http://127.0.0.1:5000
                http:
                  connectTimeout: soon
            """;
        var result = YamlConfigReader.Read(yaml, "bad.yaml");
        Assert.False(result.IsValid);
        Assert.Equal(3, result.Errors.Count);

        var unknown = Assert.Single(result.Errors, e => e.Field == "listeners.public.protocol");
        Assert.Equal((4, 5), (unknown.Line, unknown.Column));
        Assert.Contains("did you mean 'protocols'", unknown.Message);

        var cluster = Assert.Single(result.Errors, e => e.Field == "routes.api.cluster");
        Assert.Equal((9, 14), (cluster.Line, cluster.Column));
        Assert.Contains("did you mean 'backend'", cluster.Message);

        var duration = Assert.Single(result.Errors, e => e.Field == "clusters.backend.http.connectTimeout");
        Assert.Equal(15, duration.Line);
        Assert.Contains("'soon' is not a valid duration", duration.Message);
        Assert.All(result.Errors, e => Assert.Equal("bad.yaml", e.File));
        Assert.StartsWith("bad.yaml:4:5: listeners.public.protocol:", unknown.ToString());
    }

    [Theory]
    [InlineData("routes: [", "(syntax)")]
    [InlineData("- a\n- b", "(document)")]
    [InlineData("", "(document)")]
    public void ReportsSyntaxAndShapeErrors(string yaml, string field)
    {
        var result = YamlConfigReader.Read(yaml, "x.yaml");
        Assert.False(result.IsValid);
        Assert.Equal(field, Assert.Single(result.Errors).Field);
        Assert.True(result.Errors[0].Line >= 1 || field == "(document)");
    }

    [Fact]
    public void DuplicateKeysAreReportedWithPosition()
    {
        var result = YamlConfigReader.Read("routes: {}\nroutes: {}\n", "dup.yaml");
        var error = Assert.Single(result.Errors);
        Assert.Equal(2, error.Line);
    }

    [Theory]
    [InlineData("port: 99999", "listeners.l.port", "out of range")]
    [InlineData("port: abc", "listeners.l.port", "not an integer")]
    [InlineData("port: 80\n    address: not-an-ip", "listeners.l.address", "not an IP address")]
    [InlineData("port: 80\n    protocols: http3", "listeners.l.protocols", "did you mean")]
    [InlineData("port: 80\n    tls: { certificate: /nonexistent.pem, key: /nonexistent.key }", "listeners.l.tls.certificate", "does not exist")]
    public void ListenerValuesAreChecked(string body, string field, string message)
    {
        var result = YamlConfigReader.Read($"listeners:\n  l:\n    {body}\n", "l.yaml");
        Assert.Contains(result.Errors, e => e.Field == field && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("match: { path: api }", "routes.r.match.path")]
    [InlineData("match: { path: '/a/{**x}/b' }", "routes.r.match.path")]
    [InlineData("match: { path: '/a/{x}', pathPrefix: /a }", "routes.r.match.pathPrefix")]
    [InlineData("match: { methods: [get], pathPrefix: /a }", "routes.r.match.methods")]
    [InlineData("match: { hosts: ['bad host'] }", "routes.r.match.hosts")]
    [InlineData("match: { }", "routes.r.match")]
    [InlineData("match: { pathPrefix: /a, headers: [ { name: x, mode: prefix } ] }", "routes.r.match.headers[0].values")]
    public void RouteMatchesAreChecked(string match, string field)
    {
        var yaml = $"routes:\n  r:\n    cluster: c\n    {match}\nclusters:\n  c:\n    destinations:\n      d: http://127.0.0.1:1\n";
        var result = YamlConfigReader.Read(yaml, "r.yaml");
        Assert.Contains(result.Errors, e => e.Field == field);
    }

    [Theory]
    [InlineData("d: ftp://x", "clusters.c.destinations.d")]
    [InlineData("d: { address: 'http://x:1', health: healthz }", "clusters.c.destinations.d.health")]
    [InlineData("d: { address: 'http://x:1', wieght: 2 }", "clusters.c.destinations.d.wieght")]
    public void DestinationsAreChecked(string destination, string field)
    {
        var result = YamlConfigReader.Read($"clusters:\n  c:\n    destinations:\n      {destination}\n", "c.yaml");
        Assert.Contains(result.Errors, e => e.Field == field);
    }

    [Theory]
    [InlineData("port: 80", ListenerProtocols.Http1)]
    [InlineData("port: 80\n    protocols: http2", ListenerProtocols.Http2)]
    [InlineData("port: 80\n    protocols: [http2]", ListenerProtocols.Http2)]
    [InlineData("port: 80\n    tls: { certificate: CERT, key: CERT }", ListenerProtocols.Http1AndHttp2)]
    public void ListenerProtocolsDefaultByTls(string body, ListenerProtocols expected)
    {
        var cert = Path.GetTempFileName();
        try
        {
            var result = YamlConfigReader.Read($"listeners:\n  l:\n    {body.Replace("CERT", cert, StringComparison.Ordinal)}\n", "l.yaml");
            Assert.Empty(result.Errors);
            Assert.Equal(expected, Assert.Single(result.Config!.Listeners).Protocols);
        }
        finally
        {
            File.Delete(cert);
        }
    }

    [Theory]
    [InlineData("protocols: http1AndHttp2")]
    [InlineData("protocols: [http1, http2]")]
    public void BothProtocolsWithoutTlsIsAnError(string protocols)
    {
        var result = YamlConfigReader.Read($"listeners:\n  l:\n    port: 80\n    {protocols}\n", "l.yaml");
        var error = Assert.Single(result.Errors);
        Assert.Equal("listeners.l.protocols", error.Field);
        Assert.Contains("need TLS", error.Message);
    }

    [Fact]
    public void AtLeastOneListenerIsRequired()
    {
        var result = YamlConfigReader.Read("routes: {}\n", "n.yaml");
        Assert.Equal("listeners", Assert.Single(result.Errors).Field);
    }

    [Fact]
    public void AccessLogPathIsRelativeToTheConfigFile()
    {
        var result = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nlogging: { accessLog: { path: logs/access.log } }\n", "/etc/turnpike/turnpike.yaml");
        Assert.Equal("/etc/turnpike/logs/access.log", result.Config!.Logging.AccessLog.Path);
        var stdout = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nlogging: { accessLog: { enabled: true } }\n", "/etc/turnpike/turnpike.yaml");
        Assert.Equal("stdout", stdout.Config!.Logging.AccessLog.Path);
    }

    [Fact]
    public void AccessLogFlushIntervalDefaultsToOneSecondAndAcceptsZero()
    {
        var byDefault = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nlogging: { accessLog: { enabled: true } }\n", "a.yaml");
        Assert.Equal(TimeSpan.FromSeconds(1), byDefault.Config!.Logging.AccessLog.FlushInterval);
        var zero = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nlogging: { accessLog: { flushInterval: 0 } }\n", "a.yaml");
        Assert.Equal(TimeSpan.Zero, zero.Config!.Logging.AccessLog.FlushInterval);
        var bad = YamlConfigReader.Read("listeners: { l: { port: 0 } }\nlogging:\n  accessLog:\n    flushInterval: soon\n", "a.yaml");
        var error = Assert.Single(bad.Errors);
        Assert.Equal("logging.accessLog.flushInterval", error.Field);
        Assert.Equal(4, error.Line);
    }

    [Fact]
    public void ClusterWithoutDestinationsIsAnError()
    {
        var result = YamlConfigReader.Read("clusters:\n  c:\n    destinations: {}\n", "c.yaml");
        Assert.Contains(result.Errors, e => e.Field == "clusters.c.destinations");
    }

    [Fact]
    public void PortConflictsAreReported()
    {
        var result = YamlConfigReader.Read("listeners:\n  a: { port: 9000 }\n  b: { port: 9000 }\n  c: { address: '*', port: 9001 }\nadmin: { port: 9000 }\ndemo: { port: 9001 }\n", "p.yaml");
        Assert.Equal(3, result.Errors.Count);
        var listener = Assert.Single(result.Errors, e => e.Field == "listeners.b.port");
        Assert.Equal(3, listener.Line);
        Assert.Contains(result.Errors, e => e.Field == "admin.port");
        Assert.Contains(result.Errors, e => e.Field == "demo.port" && e.Message.Contains("listener 'c'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("10s", 10_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("30", 30_000)]
    public void ParsesDurations(string text, double ms)
    {
        Assert.True(YamlSection.TryParseDuration(text, out var value));
        Assert.Equal(ms, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ten seconds")]
    [InlineData("-1s")]
    [InlineData("5d")]
    public void RejectsBadDurations(string text) => Assert.False(YamlSection.TryParseDuration(text, out _));

    [Theory]
    [InlineData("8192", 8192L)]
    [InlineData("64KiB", 65536L)]
    [InlineData("10MB", 10485760L)]
    [InlineData("1GiB", 1073741824L)]
    public void ParsesSizes(string text, long bytes)
    {
        Assert.True(YamlSection.TryParseSize(text, out var value));
        Assert.Equal(bytes, value);
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("12 parsecs")]
    [InlineData("99999999999999999999")]
    public void RejectsBadSizes(string text) => Assert.False(YamlSection.TryParseSize(text, out _));

    [Fact]
    public void EmbeddedDefaultIsValid()
    {
        var result = YamlConfigReader.Read(ConfigSource.ReadEmbeddedDefault(), ConfigSource.EmbeddedName);
        Assert.Empty(result.Errors);
        Assert.NotNull(result.Config!.Demo);
    }

    [Fact]
    public void TransformErrorsPointAtTheTransform()
    {
        var yaml = "listeners: { l: { port: 0 } }\nroutes:\n  r:\n    match: { pathPrefix: /a }\n    cluster: c\n    transforms:\n      - pathRemovePrefx: /a\nclusters:\n  c:\n    destinations:\n      d: http://127.0.0.1:1\n";
        var path = Path.Combine(Path.GetTempPath(), $"turnpike-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        try
        {
            var result = ConfigValidator.Validate(ConfigSource.FromFile(path));
            var error = Assert.Single(result.Errors);
            Assert.Equal("routes.r.transforms[0]", error.Field);
            Assert.Equal(7, error.Line);
            Assert.Contains("PathRemovePrefx", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
