using System.Collections;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Turnpike.Http1.Server;

/// <summary>
/// The connection is its own feature collection (as Kestrel's HttpProtocol is): the request, response, body,
/// connection, lifetime, upgrade… features are the connection object itself; anything else the pipeline sets
/// (the gateway's request feature, YARP's error feature, a wrapped response body) goes into a small per-request
/// list that is cleared between requests.
/// </summary>
internal sealed partial class RawConnection :
    IFeatureCollection,
    IHttpRequestFeature,
    IHttpRequestBodyDetectionFeature,
    IHttpConnectionFeature,
    IHttpRequestLifetimeFeature,
    IHttpMaxRequestBodySizeFeature,
    IHttpRequestIdentifierFeature,
    IServiceProvidersFeature,
    IRequestAbortLink,
    IRemoteAddressText,
    Sockets.IEpollThreadAffinity,
    IContextStateSlot,
    Logging.ITraceIdentifierSource
{
    private static readonly Type[] OwnFeatures =
    [
        typeof(IHttpRequestFeature),
        typeof(IHttpResponseFeature),
        typeof(IHttpResponseBodyFeature),
        typeof(IHttpRequestBodyDetectionFeature),
        typeof(IHttpConnectionFeature),
        typeof(IHttpRequestLifetimeFeature),
        typeof(IHttpMaxRequestBodySizeFeature),
        typeof(IHttpRequestIdentifierFeature),
        typeof(IServiceProvidersFeature),
        typeof(IHttpUpgradeFeature),
    ];

    private readonly IPAddress? _remoteIp;
    private string? _remoteIpText; // formatted on first use (IRemoteAddressText)
    private readonly int _remotePort;
    private readonly IPAddress? _localIp;
    private readonly int _localPort;
    private KeyValuePair<Type, object>[] _extra = new KeyValuePair<Type, object>[8];
    private nint[] _extraKeys = new nint[8]; // the type handle of each _extra key: Get<T> compares handles, no Type object
    private int _extraCount;
    private int _revision;
    private bool _versionedSet; // a feature that changes the Revision was set since the last request began
    private string? _traceIdentifier;
    private CancellationTokenSource? _abortSource;
    private long? _maxRequestBodySize;

    // IFeatureCollection

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            for (int i = 0; i < _extraCount; i++)
            {
                if (_extra[i].Key == key)
                {
                    return _extra[i].Value;
                }
            }

            return IsOwnFeature(key) ? this : null;
        }

        set => SetFeature(key, key.TypeHandle.Value, value);
    }

    /// <summary>
    /// Sets or (null) removes an extra feature. The Revision changes, except for the options' unversioned features
    /// (see <see cref="RawListenerOptions.UnversionedFeatures"/>), so that the context's cached features stay valid.
    /// </summary>
    private void SetFeature(Type key, nint handle, object? value)
    {
        if (!IsUnversioned(handle))
        {
            _revision++;
            _versionedSet = true;
        }

        for (int i = 0; i < _extraCount; i++)
        {
            if (_extra[i].Key == key)
            {
                if (value is null)
                {
                    _extraCount--;
                    _extra[i] = _extra[_extraCount];
                    _extraKeys[i] = _extraKeys[_extraCount];
                    _extra[_extraCount] = default;
                }
                else
                {
                    _extra[i] = new(key, value);
                }

                return;
            }
        }

        if (value is null || (ReferenceEquals(value, this) && IsOwnFeature(key)))
        {
            return;
        }

        if (_extraCount == _extra.Length)
        {
            Array.Resize(ref _extra, _extra.Length * 2);
            Array.Resize(ref _extraKeys, _extra.Length);
        }

        _extraKeys[_extraCount] = handle;
        _extra[_extraCount++] = new(key, value);
    }

    private bool IsUnversioned(nint handle)
    {
        foreach (var unversioned in _options.UnversionedHandles)
        {
            if (unversioned == handle)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// DefaultHttpContext fetches every feature it uses through here once per request (the revision changes between
    /// requests): the key is compared as a type handle (no <c>typeof</c> → Type conversion in this shared generic
    /// code), and an own feature is found by a per-type flag and returned without a cast helper.
    /// </summary>
    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default
    {
        if (_extraCount != 0 && ExtraIndex(OwnFeature<TFeature>.Handle) is >= 0 and var i)
        {
            return (TFeature?)_extra[i].Value;
        }

        if (!typeof(TFeature).IsValueType && OwnFeature<TFeature>.Is)
        {
            object self = this;
            return Unsafe.As<object, TFeature>(ref self); // this connection implements every own feature
        }

        return default;
    }

    /// <summary>Whether the pipeline set its own <typeparamref name="TFeature"/> for this request (it replaces the connection's).</summary>
    private bool HasExtraFeature<TFeature>() => ExtraIndex(OwnFeature<TFeature>.Handle) >= 0;

    /// <summary>The index in <c>_extra</c> of the feature whose type handle is <paramref name="key"/>, or −1.</summary>
    private int ExtraIndex(nint key)
    {
        var keys = _extraKeys;
        for (int i = 0; i < _extraCount && i < keys.Length; i++)
        {
            if (keys[i] == key)
            {
                return i;
            }
        }

        return -1;
    }

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default =>
        SetFeature(OwnFeature<TFeature>.Type, OwnFeature<TFeature>.Handle, instance);

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (int i = 0; i < _extraCount; i++)
        {
            yield return _extra[i];
        }

        foreach (var type in OwnFeatures)
        {
            yield return new(type, this);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();

    /// <summary>
    /// Per feature type, computed once: whether it is one of <see cref="OwnFeatures"/>, its <see cref="Type"/> and type
    /// handle. In the shared generic code of <c>Get&lt;T&gt;</c>/<c>Set&lt;T&gt;</c> for reference types, <c>typeof(T)</c>
    /// costs a runtime helper call (RuntimeTypeHandle.GetRuntimeTypeFromHandle, 0.2–0.4 % of the CPU at 50 connections
    /// in the e2e profile); a static field of this class is a dictionary load.
    /// </summary>
    private static class OwnFeature<TFeature>
    {
        public static readonly Type Type = typeof(TFeature);
        public static readonly nint Handle = typeof(TFeature).TypeHandle.Value;
        public static readonly bool Is = IsOwnFeature(Type); // after Type: initialized in order
    }

    private static bool IsOwnFeature(Type key)
    {
        foreach (var type in OwnFeatures)
        {
            if (type == key)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Between requests: drop what the last request set, so the next one starts clean. The context is kept with the
    /// features it fetched (all of them this connection, or extras the last request set) unless the last request set
    /// a versioned feature: then the Revision changes and the context fetches again what it uses. As long as only
    /// unversioned features come and go, requests fetch nothing (a generic virtual call per feature) after the first.
    /// </summary>
    private void ResetFeatures()
    {
        Array.Clear(_extra, 0, _extraCount);
        _extraCount = 0; // _extraKeys beyond the count are never read
        if (_versionedSet)
        {
            _revision++;
            _versionedSet = false;
        }

        _traceIdentifier = null;
        _maxRequestBodySize = _options.MaxRequestBodySize;
        _abortLink = null;
        if (_abortSource is not null && !_abortSource.TryReset())
        {
            _abortSource.Dispose();
            _abortSource = null;
        }
    }

    // IHttpConnectionFeature

    string IHttpConnectionFeature.ConnectionId { get => _connectionId; set { } }

    IPAddress? IHttpConnectionFeature.RemoteIpAddress { get => _remoteIp; set { } }

    // IEpollThreadAffinity
    Sockets.EpollThread? Sockets.IEpollThreadAffinity.EngineThread => _epoll?.Thread;

    // IRemoteAddressText: the address this connection's own IHttpConnectionFeature gives (none when a middleware set another).
    string? IRemoteAddressText.RemoteAddressText =>
        HasExtraFeature<IHttpConnectionFeature>() ? null : _remoteIpText ??= _remoteIp?.ToString();

    int IHttpConnectionFeature.RemotePort { get => _remotePort; set { } }

    IPAddress? IHttpConnectionFeature.LocalIpAddress { get => _localIp; set { } }

    int IHttpConnectionFeature.LocalPort { get => _localPort; set { } }

    // IHttpRequestIdentifierFeature: as Kestrel, "<connection id>:<request number, 8 hex digits>", made when asked for.

    string IHttpRequestIdentifierFeature.TraceIdentifier
    {
        get => _traceIdentifier ??= string.Create(22, this, static (span, connection) => connection.TryFormatTraceIdentifier(span, out _));
        set => _traceIdentifier = value;
    }

    /// <summary>The trace identifier without making its string (a sampled access-log line).</summary>
    public bool TryFormatTraceIdentifier(Span<char> destination, out int written)
    {
        if (_traceIdentifier is { } set)
        {
            written = set.Length;
            return set.TryCopyTo(destination);
        }

        written = 22;
        if (destination.Length < 22)
        {
            return false;
        }

        _connectionId.AsSpan().CopyTo(destination);
        destination[13] = ':';
        return ((uint)_requestCount).TryFormat(destination[14..], out _, "X8");
    }

    // IHttpRequestLifetimeFeature

    CancellationToken IHttpRequestLifetimeFeature.RequestAborted
    {
        get => AbortSource().Token;
        set { }
    }

    void IHttpRequestLifetimeFeature.Abort() => Abort();

    private CancellationTokenSource AbortSource()
    {
        var source = Volatile.Read(ref _abortSource);
        if (source is null)
        {
            var created = new CancellationTokenSource();
            source = Interlocked.CompareExchange(ref _abortSource, created, null) ?? created;
        }

        return source;
    }

    private void CancelRequest()
    {
        try
        {
            AbortSource().Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        CancelLinked(Interlocked.Exchange(ref _abortLink, null));
    }

    object? IContextStateSlot.ContextState { get; set; }

    // IRequestAbortLink: the source an upstream exchange linked (null when none, or when an abort took it).
    private CancellationTokenSource? _abortLink;

    void IRequestAbortLink.Link(CancellationTokenSource source)
    {
        Interlocked.Exchange(ref _abortLink, source);
        // An abort before (or racing) the link: the fences of both exchanges make one side see the other, and only the
        // side that takes the link back cancels.
        if (Volatile.Read(ref _abortSource) is { IsCancellationRequested: true })
        {
            CancelLinked(Interlocked.Exchange(ref _abortLink, null));
        }
    }

    bool IRequestAbortLink.Unlink() => Interlocked.Exchange(ref _abortLink, null) is not null;

    private static void CancelLinked(CancellationTokenSource? source)
    {
        if (source is null)
        {
            return;
        }

        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The exchange ended and closed its connection meanwhile.
        }
    }

    // IHttpMaxRequestBodySizeFeature

    bool IHttpMaxRequestBodySizeFeature.IsReadOnly => _bodyRead > 0 || _upgraded;

    long? IHttpMaxRequestBodySizeFeature.MaxRequestBodySize
    {
        get => _maxRequestBodySize;
        set
        {
            if (_bodyRead > 0 || _upgraded)
            {
                throw new InvalidOperationException("The maximum request body size cannot be changed after the body was read.");
            }

            _maxRequestBodySize = value;
        }
    }

    // IServiceProvidersFeature

    IServiceProvider IServiceProvidersFeature.RequestServices
    {
        get => _options.Services;
        set { }
    }
}
