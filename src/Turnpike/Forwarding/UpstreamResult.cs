namespace Turnpike.Forwarding;

/// <summary>How an attempt to reach an upstream ended.</summary>
internal enum UpstreamOutcome
{
    Success,
    /// <summary>Connection refused or unreachable: the request never left the gateway.</summary>
    ConnectFailed,
    /// <summary>The TCP/TLS connect did not finish within the cluster's connect timeout.</summary>
    ConnectTimeout,
    /// <summary>HTTP/2 REFUSED_STREAM: the upstream did not process the request (part of its body may have been read).</summary>
    Refused,
    /// <summary>The upstream went quiet for longer than the activity timeout, or the request timeout expired.</summary>
    Timeout,
    /// <summary>The upstream closed or reset the connection, or answered with something that is not HTTP.</summary>
    UpstreamError,
    /// <summary>The client went away or sent a broken body; nothing to answer.</summary>
    ClientError,
}

/// <param name="Status">The upstream's status code when it answered (also one held back for a retry); 0 when it did not.</param>
internal readonly record struct UpstreamResult(UpstreamOutcome Outcome, GatewayErrorCode Error, Exception? Exception, int Status = 0)
{
    public static UpstreamResult Success(int status) => new(UpstreamOutcome.Success, GatewayErrorCode.None, null, status);

    /// <summary>The timestamp the attempt ended at when the sender read the clock there anyway (0: it did not).</summary>
    public long EndedAt { get; init; }

    /// <summary>True when the request provably never reached the upstream, so trying another destination is safe for any method.</summary>
    public bool NeverSent => Outcome is UpstreamOutcome.ConnectFailed or UpstreamOutcome.ConnectTimeout or UpstreamOutcome.Refused;
}
