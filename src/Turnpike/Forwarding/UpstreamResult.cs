namespace Turnpike.Forwarding;

/// <summary>How an attempt to reach an upstream ended.</summary>
internal enum UpstreamOutcome
{
    Success,
    /// <summary>Connection refused or unreachable: the request never left the gateway.</summary>
    ConnectFailed,
    /// <summary>The TCP/TLS connect did not finish within the cluster's connect timeout.</summary>
    ConnectTimeout,
    /// <summary>The upstream went quiet for longer than the activity timeout, or the request timeout expired.</summary>
    Timeout,
    /// <summary>The upstream closed or reset the connection, or answered with something that is not HTTP.</summary>
    UpstreamError,
    /// <summary>The client went away or sent a broken body; nothing to answer.</summary>
    ClientError,
}

internal readonly record struct UpstreamResult(UpstreamOutcome Outcome, GatewayErrorCode Error, Exception? Exception)
{
    public static readonly UpstreamResult Success = new(UpstreamOutcome.Success, GatewayErrorCode.None, null);

    /// <summary>True when the request provably never reached the upstream, so trying another destination is safe for any method.</summary>
    public bool NeverSent => Outcome is UpstreamOutcome.ConnectFailed or UpstreamOutcome.ConnectTimeout;
}
