namespace Turnpike.Http1;

/// <summary>
/// Limits the HTTP/1.1 parsers enforce. Passed by value; <see cref="Default"/> matches Kestrel's defaults where
/// Kestrel has one (request line 8 KiB, 100 headers, 32 KiB of header fields, 30 MB body).
/// </summary>
internal readonly record struct Http1Limits(
    int MaxRequestLineLength,
    int MaxHeaderCount,
    int MaxHeaderBytes,
    long MaxBodySize,
    int MaxChunkExtensionLength,
    int MaxTrailerBytes)
{
    /// <summary>The limits a listener uses unless configured otherwise.</summary>
    public static Http1Limits Default { get; } = new(
        MaxRequestLineLength: 8 * 1024,
        MaxHeaderCount: 100,
        MaxHeaderBytes: 32 * 1024,
        MaxBodySize: 30_000_000,
        MaxChunkExtensionLength: 1024,
        MaxTrailerBytes: 8 * 1024);

    /// <summary>Throws when a limit is out of range (checked once, when a listener is built).</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequestLineLength, 16, nameof(MaxRequestLineLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderCount, 1, nameof(MaxHeaderCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderBytes, 64, nameof(MaxHeaderBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxBodySize, nameof(MaxBodySize));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxChunkExtensionLength, nameof(MaxChunkExtensionLength));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxTrailerBytes, nameof(MaxTrailerBytes));
    }
}
