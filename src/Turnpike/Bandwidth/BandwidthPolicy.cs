using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Turnpike.Configuration;

namespace Turnpike.Bandwidth;

/// <summary>
/// A route's <c>bandwidth</c> policy, built at config load: a shared bucket and, per client, a bounded map of
/// buckets. <see cref="Apply"/> wraps the response body so writes are paced by the client's bucket.
/// </summary>
internal sealed class BandwidthPolicy
{
    /// <summary>Largest piece written at once: smaller pieces make the pace smoother at the cost of more waits.</summary>
    internal const int MaxPiece = 16 * 1024;

    private readonly TimeProvider _time;
    private readonly BucketPartitions<IPAddress>? _byAddress;
    private readonly BucketPartitions<string>? _byHeader;
    private readonly string? _header;

    public BandwidthPolicy(BandwidthConfig config, TimeProvider time)
    {
        Config = config;
        _time = time;
        Shared = new TokenBucket(config.BytesPerSecond, config.Burst, time);
        switch (config.PerClient)
        {
            case BandwidthPartition.ClientIp:
                _byAddress = new BucketPartitions<IPAddress>(config.BytesPerSecond, config.Burst, config.MaxClients, time);
                break;
            case BandwidthPartition.Header:
                _byHeader = new BucketPartitions<string>(config.BytesPerSecond, config.Burst, config.MaxClients, time);
                _header = config.Header;
                break;
        }

        Piece = (int)Math.Min(config.Burst, MaxPiece);
    }

    public BandwidthConfig Config { get; }

    /// <summary>The route-wide bucket; per-client policies use it for requests without a key.</summary>
    public TokenBucket Shared { get; }

    internal int Piece { get; }

    /// <summary>Client buckets currently kept.</summary>
    public int Clients => _byAddress?.Count ?? _byHeader?.Count ?? 0;

    /// <summary>The bucket that paces <paramref name="context"/>'s response.</summary>
    public TokenBucket BucketFor(HttpContext context)
    {
        if (_byAddress is not null)
        {
            return context.Connection.RemoteIpAddress is { } ip ? _byAddress.For(ip) : Shared;
        }

        if (_byHeader is not null)
        {
            var value = context.Request.Headers[_header!];
            return value.Count == 0 || string.IsNullOrEmpty(value[0]) ? Shared : _byHeader.For(value[0]!);
        }

        return Shared;
    }

    /// <summary>Paces the response body of <paramref name="context"/>; upgraded connections (WebSockets) are left alone.</summary>
    public void Apply(HttpContext context)
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
            || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true })
        {
            return;
        }

        var response = context.Response;
        response.Body = new ShapedResponseStream(response.Body, BucketFor(context), Piece, _time);
    }
}
