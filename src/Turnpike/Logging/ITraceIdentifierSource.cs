namespace Turnpike.Logging;

/// <summary>
/// A server's request identifier written straight into a caller's buffer, so a sampled access-log line does not make
/// the <see cref="Microsoft.AspNetCore.Http.HttpContext.TraceIdentifier"/> string. Implemented by the raw listener's
/// connection (the feature collection of its context); other servers go through <c>TraceIdentifier</c>.
/// </summary>
internal interface ITraceIdentifierSource
{
    /// <summary>The same characters <c>TraceIdentifier</c> returns; false when <paramref name="destination"/> is too short.</summary>
    bool TryFormatTraceIdentifier(Span<char> destination, out int written);
}
