namespace Turnpike.Http1;

/// <summary>
/// A response that can take an upstream response's header fields as they are (the raw listener's connection, whose
/// features are its context's feature collection): the head is written straight from the field strings, and they go
/// into <c>HttpResponse.Headers</c> only when something reads or replaces the headers. Filling, scanning and emptying
/// a header dictionary per proxied response, then writing it out, cost up to ~5 % of the CPU per request at 50
/// connections on the e2e set-up (interleaved A/B runs with the upstream's fields left out: 0.93× and 0.95×).
/// </summary>
internal interface IDeferredResponseHeaders
{
    /// <summary>
    /// Starts taking fields: true when the response has not started and its headers are empty and its own (not
    /// replaced by a middleware), so that <see cref="Defer"/> gives the same headers, in the same order, as setting
    /// them one by one would.
    /// </summary>
    bool BeginDeferred();

    /// <summary>One field after <see cref="BeginDeferred"/>: a name not given before (ignoring case) and a value the upstream's parser checked (field-value syntax: no CR, LF or NUL).</summary>
    /// <param name="line">The field already encoded as <c>name: value</c> CRLF (Latin-1), written as it is; null: encoded when the head is written.</param>
    void Defer(string name, string value, byte[]? line);
}
