namespace Turnpike.Http1;

/// <summary>Receives the parts of an upstream response head; spans are only valid during the call.</summary>
internal interface IHttp1ResponseHandler
{
    void OnStatusLine(Http1Version version, int statusCode, ReadOnlySpan<byte> reasonPhrase);

    void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

/// <summary>What a complete response head says (valid after <see cref="Http1ParseStatus.Complete"/>).</summary>
internal struct Http1ResponseInfo
{
    public Http1Version Version;
    public int StatusCode;
    public Http1BodyFraming Framing;
    public long ContentLength;

    /// <summary>A 1xx other than 101: forward or skip it, <see cref="Http1ResponseParser.Reset"/>, parse the final response.</summary>
    public bool IsInterim;

    /// <summary>101 Switching Protocols, or a 2xx to CONNECT: the connection is no longer HTTP/1.1.</summary>
    public bool IsUpgrade;

    /// <summary>The connection may go back to the pool once this body is fully read.</summary>
    public bool Reusable;

    public int HeadLength;
}
