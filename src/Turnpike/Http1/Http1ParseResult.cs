namespace Turnpike.Http1;

/// <summary>What one call to a parser produced.</summary>
internal enum Http1ParseStatus : byte
{
    /// <summary>The message head is not complete yet: read more and call again with the unconsumed bytes.</summary>
    NeedMoreData,

    /// <summary>The message head was parsed; the info and framing are available.</summary>
    Complete,

    /// <summary>The message is malformed or over a limit; the connection must not be reused.</summary>
    Error,
}

/// <summary>Why a message was rejected. <see cref="Http1ParseResult.StatusCode"/> carries the HTTP status.</summary>
internal enum Http1Error : byte
{
    None,
    BareLineFeed,
    BareCarriageReturn,
    RequestLineTooLong,
    InvalidRequestLine,
    InvalidMethod,
    InvalidRequestTarget,
    InvalidVersion,
    UnsupportedVersion,
    InvalidStatusLine,
    ObsoleteLineFolding,
    MissingColon,
    WhitespaceBeforeColon,
    InvalidFieldName,
    InvalidFieldValue,
    TooManyHeaders,
    HeadersTooLarge,
    MissingHost,
    MultipleHost,
    InvalidHost,
    InvalidContentLength,
    DuplicateContentLength,
    ContentLengthAndTransferEncoding,
    TransferEncodingNotChunked,
    TransferEncodingInHttp10,
    UnsupportedTransferCoding,
    BodyTooLarge,
    InvalidChunkSize,
    ChunkExtensionTooLong,
    InvalidChunkExtension,
    InvalidChunkTerminator,
    TrailersTooLarge,
}

/// <summary>The outcome of a parse step: status, and for an error the HTTP status code and the reason.</summary>
internal readonly struct Http1ParseResult
{
    private Http1ParseResult(Http1ParseStatus status, int statusCode, Http1Error error)
    {
        Status = status;
        StatusCode = statusCode;
        Error = error;
    }

    public Http1ParseStatus Status { get; }

    /// <summary>For <see cref="Http1ParseStatus.Error"/>: 400, 413, 414, 431, 501 or 505 for a request; 502 for an upstream response.</summary>
    public int StatusCode { get; }

    public Http1Error Error { get; }

    public static Http1ParseResult NeedMoreData => default;

    public static Http1ParseResult Complete => new(Http1ParseStatus.Complete, 0, Http1Error.None);

    public static Http1ParseResult Fail(int statusCode, Http1Error error) => new(Http1ParseStatus.Error, statusCode, error);

    public override string ToString() =>
        Status == Http1ParseStatus.Error ? $"Error({StatusCode}, {Error})" : Status.ToString();
}

/// <summary>Human-readable reasons (constant strings: used in error bodies and logs, no allocation).</summary>
internal static class Http1ErrorText
{
    public static string Describe(Http1Error error) => error switch
    {
        Http1Error.None => "none",
        Http1Error.BareLineFeed => "line ends with LF without CR",
        Http1Error.BareCarriageReturn => "CR not followed by LF",
        Http1Error.RequestLineTooLong => "request line too long",
        Http1Error.InvalidRequestLine => "malformed request line",
        Http1Error.InvalidMethod => "invalid method",
        Http1Error.InvalidRequestTarget => "invalid request target",
        Http1Error.InvalidVersion => "invalid HTTP version",
        Http1Error.UnsupportedVersion => "HTTP version not supported",
        Http1Error.InvalidStatusLine => "malformed status line",
        Http1Error.ObsoleteLineFolding => "obsolete line folding",
        Http1Error.MissingColon => "header field without colon",
        Http1Error.WhitespaceBeforeColon => "whitespace between field name and colon",
        Http1Error.InvalidFieldName => "invalid header field name",
        Http1Error.InvalidFieldValue => "invalid header field value",
        Http1Error.TooManyHeaders => "too many header fields",
        Http1Error.HeadersTooLarge => "header fields too large",
        Http1Error.MissingHost => "HTTP/1.1 request without Host",
        Http1Error.MultipleHost => "more than one Host header",
        Http1Error.InvalidHost => "invalid Host",
        Http1Error.InvalidContentLength => "invalid Content-Length",
        Http1Error.DuplicateContentLength => "more than one Content-Length",
        Http1Error.ContentLengthAndTransferEncoding => "both Content-Length and Transfer-Encoding",
        Http1Error.TransferEncodingNotChunked => "Transfer-Encoding does not end in chunked",
        Http1Error.TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
        Http1Error.UnsupportedTransferCoding => "unsupported transfer coding",
        Http1Error.BodyTooLarge => "body too large",
        Http1Error.InvalidChunkSize => "invalid chunk size",
        Http1Error.ChunkExtensionTooLong => "chunk extension too long",
        Http1Error.InvalidChunkExtension => "invalid chunk extension",
        Http1Error.InvalidChunkTerminator => "chunk data not followed by CRLF",
        Http1Error.TrailersTooLarge => "trailer fields too large",
        _ => "malformed message",
    };
}
