namespace Turnpike.Tools.Bench;

/// <summary>Transport failures, counted apart from HTTP status codes (a 500 is an answer, not one of these).</summary>
public enum BenchErrorKind
{
    /// <summary>The connection could not be opened (refused, unreachable, connect timed out).</summary>
    Connect,

    /// <summary>No complete answer within <c>--timeout</c>; the connection was closed.</summary>
    Timeout,

    /// <summary>The peer reset or closed the connection before the answer was complete.</summary>
    Reset,

    /// <summary>The answer could not be read: malformed status line, headers or chunk framing.</summary>
    Read,
}
