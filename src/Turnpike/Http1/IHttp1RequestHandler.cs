namespace Turnpike.Http1;

/// <summary>
/// Receives the parts of a request head as <see cref="Http1RequestParser"/> validates them. Spans are only valid
/// during the call. Each line is delivered exactly once, however the bytes arrive.
/// Implement on a struct so the generic parse method is specialised and nothing is boxed.
/// </summary>
internal interface IHttp1RequestHandler
{
    void OnRequestLine(Http1Method method, ReadOnlySpan<byte> methodName, ReadOnlySpan<byte> target, Http1TargetForm form, Http1Version version);

    /// <param name="known">The header when the parser recognises it (Host, Content-Length, …), else None.</param>
    /// <param name="name">The field name as received.</param>
    /// <param name="value">The field value without leading/trailing whitespace.</param>
    void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

/// <summary>What a complete request head says about the message (valid after <see cref="Http1ParseStatus.Complete"/>).</summary>
internal struct Http1RequestInfo
{
    public Http1Method Method;
    public Http1Version Version;
    public Http1TargetForm TargetForm;
    public Http1BodyFraming Framing;

    /// <summary>The Content-Length when <see cref="Framing"/> is ContentLength.</summary>
    public long ContentLength;

    /// <summary>The connection may carry another request after this one's body is fully read.</summary>
    public bool KeepAlive;

    /// <summary>Expect: 100-continue on an HTTP/1.1 request.</summary>
    public bool ExpectContinue;

    /// <summary>An Upgrade header field was present (the raw-socket path hands such requests elsewhere).</summary>
    public bool HasUpgrade;

    /// <summary>Bytes of the whole head (request line, fields, final CRLF).</summary>
    public int HeadLength;
}
