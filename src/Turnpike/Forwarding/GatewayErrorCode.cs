namespace Turnpike.Forwarding;

/// <summary>Reasons the gateway answers by itself. Each has a status, an <c>x-turnpike-error</c> value and a JSON body.</summary>
internal enum GatewayErrorCode
{
    None,
    NoRoute,
    InvalidHeader,
    NoHealthyDestination,
    ConnectionRefused,
    ConnectTimeout,
    UpstreamTimeout,
    UpstreamReset,
    UpstreamError,
    ClientBodyError,
    ConcurrencyLimited,
    RateLimited,
    Unauthorized,
    Forbidden,
}
