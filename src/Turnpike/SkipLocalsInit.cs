// Locals and stackalloc buffers are not zeroed on entry (the C# default, ".locals init", zeroes them): the hot path
// formats client addresses and rate-limit keys into stack buffers per request, and every stackalloc here writes the
// bytes it reads (checked when this was added: RateLimitPolicy, Http1DirectPath, RequestTarget, IpKey, AccessLog,
// ChunkedDecoder, ConsistentHashPolicy, DurationHistogram, ApiKeyAuthScheme, JwtHeaderGuard, EpollInterop).
[module: System.Runtime.CompilerServices.SkipLocalsInit]
