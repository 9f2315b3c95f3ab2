namespace Turnpike.Http1;

/// <summary>
/// The connection's remote address as text, formatted once per connection (the raw listener's connection, whose
/// features are its context's feature collection): the X-Forwarded-For field and a clientIp rate-limit key read it
/// per request instead of formatting the address again.
/// </summary>
internal interface IRemoteAddressText
{
    /// <summary>The text of <c>RemoteIpAddress.ToString()</c> (an IPv4-mapped address keeps its IPv6 form); null without an address.</summary>
    string? RemoteAddressText { get; }
}
