using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Configuration;
using Turnpike.Connections;
using Turnpike.Http1.Client;

namespace Turnpike.Tests.Http1.Client;

/// <summary>A raw-engine cluster pool and its one destination (by default 127.0.0.1:9, never connected to) for unit tests.</summary>
internal static class TestPools
{
    public static (Http1ConnectionPool Cluster, Http1DestinationPool Pool) Create(UpstreamHttpConfig http, TimeProvider time, string address = "http://127.0.0.1:9")
    {
        var connector = new UpstreamConnector(new DnsCache(SystemHostResolver.Instance, http.DnsRefresh, time, NullLogger.Instance), http.NoDelay, NullLogger.Instance);
        var cluster = new Http1ConnectionPool(http, resolvesNames: false, connector, time);
        return (cluster, cluster.For(address));
    }
}
