using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Turnpike.Forwarding;
using Turnpike.Model;
using Turnpike.Sockets;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Http1.Client;

/// <summary>
/// The <see cref="IUpstreamSender"/> registered in DI: requests to a cluster with <c>http.engine: raw</c> go through
/// Turnpike's own pooled HTTP/1.1 client, everything else (and every Upgrade/WebSocket request) through
/// <see cref="YarpUpstreamSender"/>. The route's YARP <see cref="HttpTransformer"/> runs exactly as YARP's forwarder
/// runs it, on an <see cref="HttpRequestMessage"/> and <see cref="HttpResponseMessage"/> reused per connection, and
/// failures are reported as the <see cref="ForwarderError"/> YARP would report, classified by
/// <see cref="YarpUpstreamSender.Classify"/>, so retries, breakers and error answers behave the same on both engines.
/// </summary>
internal sealed class Http1UpstreamSender(YarpUpstreamSender yarp) : IUpstreamSender
{
    private const int BodyChunk = 16 * 1024;

    /// <summary>Room before the data of a request body chunk for its size line (up to 8 hex digits and CRLF).</summary>
    private const int ChunkPrefix = 10;

    /// <summary>The direct path for routes without transforms; off only to compare it with the transformer path in tests.</summary>
    internal static bool DirectPathEnabled { get; set; } = true;

    private static readonly Action<object?> CancelActivity = static state => ((CancellationTokenSource)state!).Cancel();

    /// <param name="started">The attempt's start timestamp (0: read the clock): the pool's expiry checks and the
    /// exchange's activity timeout start from it.</param>
    public ValueTask<UpstreamResult> SendAsync(HttpContext context, RouteModel route, DestinationModel destination, CancellationToken cancellationToken, long started)
    {
        var pool = route.Cluster.RawPool;
        if (pool is null || IsUpgrade(context))
        {
            return yarp.SendAsync(context, route, destination, cancellationToken, started);
        }

        // A route without transforms runs YARP's default transformer only: its effect is written directly.
        var directEligible = DirectPathEnabled && route.Config.Transforms.Count == 0 && route.Transformer is not (Retries.RetryingTransformer or Concurrency.HeadersTimingTransformer);
        var destinationPool = pool.For(destination.Address);

        // Unlimited clusters (the default) take no permit: the exchange is the only suspended async level here.
        return destinationPool.Permits is null
            ? ForwardAsync(context, route.Transformer, directEligible, destinationPool, cancellationToken, started)
            : SendLimitedAsync(context, route.Transformer, directEligible, destinationPool, cancellationToken);
    }

    /// <summary>The client connection's epoll engine thread, where the upstream connection is rented and opened (the raw
    /// listener's: even for a first request, begun on a thread-pool thread); null elsewhere.</summary>
    private static EpollThread? EngineThreadOf(HttpContext context) => (context.Features as IEpollThreadAffinity)?.EngineThread;

    private static bool IsUpgrade(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        // An extended CONNECT has the method CONNECT: other requests skip the feature lookup (a miss scans every feature).
        || (HttpMethods.IsConnect(context.Request.Method) && context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true });

    /// <summary>With <c>maxConnectionsPerDestination</c>: a permit first, held until the exchange is over.</summary>
    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<UpstreamResult> SendLimitedAsync(HttpContext context, HttpTransformer transformer, bool directEligible, Http1DestinationPool pool, CancellationToken cancellationToken)
    {
        var permits = pool.Permits!;

        // Waiting for a free connection counts toward the activity timeout, as with SocketsHttpHandler.
        bool admitted;
        try
        {
            admitted = await permits.WaitAsync(pool.Cluster.Http.ActivityTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex)
        {
            return YarpUpstreamSender.Classify(context, Report(context, ForwarderError.RequestCanceled, ex), cancellationToken);
        }

        if (!admitted)
        {
            return YarpUpstreamSender.Classify(context, Report(context, ForwarderError.RequestTimedOut, new OperationCanceledException("No connection to the destination became free within activityTimeout.")), cancellationToken);
        }

        try
        {
            return await ForwardAsync(context, transformer, directEligible, pool, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            permits.Release();
        }
    }

    /// <summary>A connection for the request, then the exchange: directly on the direct path, after the route's request transform otherwise.</summary>
    private static ValueTask<UpstreamResult> ForwardAsync(HttpContext context, HttpTransformer transformer, bool directEligible, Http1DestinationPool pool, CancellationToken cancellationToken, long started = 0)
    {
        // One clock read (or the caller's) for the pool's expiry checks and the start of the exchange's activity timeout.
        var now = started != 0 ? started : pool.Cluster.Time.GetTimestamp();
        var thread = EngineThreadOf(context);
        var connection = pool.Rent(now, thread);
        var reused = connection is not null;
        connection ??= pool.Create(thread);
        var hasBody = HasBody(context);
        if (directEligible && Http1DirectPath.CanWrite(context, hasBody))
        {
            connection.PrepareDirect(hasBody);
            return ExchangeAsync(context, transformer, null, connection, reused, cancellationToken, now);
        }

        return TransformThenExchangeAsync(context, transformer, pool, connection, reused, hasBody, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<UpstreamResult> TransformThenExchangeAsync(HttpContext context, HttpTransformer transformer, Http1DestinationPool pool, Http1UpstreamConnection connection, bool reused, bool hasBody, CancellationToken cancellationToken)
    {
        var request = context.Request;
        connection.PrepareRequest(HttpMethod.Parse(request.Method), hasBody);
        var proxyRequest = connection.Request;
        try
        {
            await transformer.TransformRequestAsync(context, proxyRequest, pool.Address, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Release(connection, reused);
            var error = Report(context, cancellationToken.IsCancellationRequested || context.RequestAborted.IsCancellationRequested ? ForwarderError.RequestCanceled : ForwarderError.RequestCreation, ex);
            return YarpUpstreamSender.Classify(context, error, cancellationToken);
        }

        if (context.Response.StatusCode != StatusCodes.Status200OK || context.Response.HasStarted)
        {
            // The transformer answered by itself (YARP's RequestUtilities.IsResponseSet): nothing goes upstream.
            Release(connection, reused);
            return YarpUpstreamSender.Classify(context, ForwarderError.None, cancellationToken);
        }

        proxyRequest.RequestUri ??= RequestUtilities.MakeDestinationAddress(pool.Address, request.Path, request.QueryString);
        return await ExchangeAsync(context, transformer, proxyRequest, connection, reused, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What YARP's forwarder does when no response came: the status it leaves for the pipeline (the client's own
    /// 400/413 for a body it could not read, 408 when that timed out, else 502/504) and the transformer called without a
    /// response, so response transforms that apply to failures still run.
    /// </summary>
    private static async ValueTask OnRequestFailureAsync(HttpContext context, HttpTransformer transformer, ForwarderError error, CancellationToken cancellationToken)
    {
        var response = context.Response;
        if (!response.HasStarted)
        {
            var timedOut = cancellationToken.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
            response.Clear();
            response.StatusCode = error switch
            {
                ForwarderError.RequestBodyClient => timedOut ? StatusCodes.Status408RequestTimeout
                    : context.Features.Get<IForwarderErrorFeature>()?.Exception is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status400BadRequest,
                ForwarderError.RequestTimedOut => StatusCodes.Status504GatewayTimeout,
                ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled => context.RequestAborted.IsCancellationRequested ? StatusCodes.Status400BadRequest : StatusCodes.Status502BadGateway,
                _ => timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
            };
        }
        else
        {
            context.Abort();
        }

        try
        {
            await transformer.TransformResponseAsync(context, proxyResponse: null, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A connection that did not send anything goes back as it was (a new one is simply dropped).</summary>
    private static void Release(Http1UpstreamConnection connection, bool reused)
    {
        if (reused && !connection.Activity.IsCancellationRequested)
        {
            connection.Pool.Return(connection);
        }
        else
        {
            connection.Pool.Close(connection);
        }
    }

    /// <summary>A <see cref="ForwarderError"/>, or the request to try once more on a fresh connection.</summary>
    private enum Outcome
    {
        RetryOnNewConnection = -1,
    }

    /// <summary>
    /// The request/response exchange on <paramref name="connection"/> — and once more on a fresh connection when a
    /// pooled one turned out closed before any byte of the response (the classic keep-alive race) — classified as
    /// YARP would. One async method for head, response head and body relay: the common small GET suspends here only,
    /// awaiting the socket itself. Each connection is returned or closed before its attempt ends.
    /// </summary>
    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    /// <param name="started">The timestamp the exchange starts at (0: read the clock).</param>
    private static async ValueTask<UpstreamResult> ExchangeAsync(HttpContext context, HttpTransformer transformer, HttpRequestMessage? proxyRequest, Http1UpstreamConnection connection, bool reused, CancellationToken cancellationToken, long started = 0)
    {
        // Null: the direct path (route without transforms): the head is written from the HttpContext, as YARP's
        // default transformer and SocketsHttpHandler would write it (UpstreamDifferentialTests holds it to that).
        var direct = proxyRequest is null;
        var method = direct ? HttpMethod.Parse(context.Request.Method) : proxyRequest!.Method;
        var hasBody = direct ? connection.DirectHasBody : proxyRequest!.Content is not null;
        var pool = connection.Pool;
        var time = pool.Cluster.Time;
        Outcome outcome;
        long returnedAt = 0; // the clock read that returned the connection: the end of the attempt for the caller
        while (true)
        {
            var activity = connection.Activity;
            connection.ArmActivity(started != 0 ? started : time.GetTimestamp());
            started = 0; // (a retry on a fresh connection starts later)
            var token = activity.Token;
            // Without a route timeout the attempt's token is the request's own: one link or registration does for both.
            // The raw listener's connection cancels the activity itself when the request is aborted (no registration).
            var requestAborted = context.RequestAborted;
            var link = requestAborted == cancellationToken ? context.Features as IRequestAbortLink : null;
            CancellationTokenRegistration attemptRegistration = default, abortRegistration = default;
            if (link is not null)
            {
                link.Link(activity);
            }
            else
            {
                attemptRegistration = cancellationToken.UnsafeRegister(CancelActivity, activity);
                abortRegistration = requestAborted == cancellationToken ? default : requestAborted.UnsafeRegister(CancelActivity, activity);
            }

            var reusable = false;
            // The request may be sent again on a fresh connection when this one was pooled and fails before any byte of
            // the response, and the request can be replayed: no body, or an idempotent method with a rewindable body.
            var mayRetry = reused && (!hasBody || (context.Request.Body.CanSeek && IsIdempotent(method)));
            try
            {
                if (!connection.IsConnected)
                {
                    try
                    {
                        await connection.ConnectAsync(token).ConfigureAwait(false);
                    }
                    catch (Exception ex)
                    {
                        var error = ex is TaskCanceledException { InnerException: TimeoutException } ? ForwarderError.RequestTimedOut
                            : ex is OperationCanceledException ? CanceledOrTimedOut(context, cancellationToken)
                            : ForwarderError.Request;
                        outcome = (Outcome)Report(context, error, ex);
                        goto Ended;
                    }
                }

                if (direct ? !Http1DirectPath.TryWriteHead(connection, context, method, hasBody) : !WriteHead(connection, proxyRequest!))
                {
                    outcome = (Outcome)Report(context, ForwarderError.Request, new HttpRequestException(HttpRequestError.InvalidResponse, "A request header or the request target holds a character that cannot be sent (non-ASCII, CR, LF or NUL)."));
                    goto Ended;
                }

                try
                {
                    await connection.SendWrittenAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex)
                {
                    // The client went away or the try timed out while the head was going out: as a cancelled receive.
                    outcome = (Outcome)Report(context, CanceledOrTimedOut(context, cancellationToken), ex);
                    goto Ended;
                }
                catch (Exception ex)
                {
                    outcome = mayRetry ? Outcome.RetryOnNewConnection : (Outcome)Report(context, ForwarderError.Request, ex);
                    goto Ended;
                }

                connection.ReleaseWriteBuffer();

                if (hasBody)
                {
                    var length = direct ? context.Request.ContentLength : proxyRequest!.Content!.Headers.ContentLength;
                    var bodyError = await SendBodyAsync(context, connection, length, token).ConfigureAwait(false);
                    if (bodyError != ForwarderError.None)
                    {
                        if (bodyError == ForwarderError.RequestBodyCanceled)
                        {
                            bodyError = CanceledOrTimedOut(context, cancellationToken) == ForwarderError.RequestTimedOut ? ForwarderError.RequestTimedOut : ForwarderError.RequestBodyCanceled;
                        }

                        outcome = mayRetry && bodyError == ForwarderError.RequestBodyDestination ? Outcome.RetryOnNewConnection : (Outcome)bodyError;
                        goto Ended;
                    }
                }

                // :: Response head (1xx interim answers skipped).
                var http1Method = ToHttp1Method(method);
                var parser = connection.Parser;
                connection.ResetResponse();
                parser.Reset(http1Method);
                var received = false;
                while (true)
                {
                    var result = ParseHead(connection);
                    if (result.Status == Http1ParseStatus.NeedMoreData)
                    {
                        int read;
                        try
                        {
                            read = connection.Received(await connection.ReceiveAsync(pool.Cluster.Limits.MaxHeaderBytes + (16 * 1024), token).ConfigureAwait(false));
                        }
                        catch (OperationCanceledException ex)
                        {
                            outcome = (Outcome)Report(context, CanceledOrTimedOut(context, cancellationToken), ex);
                            goto Ended;
                        }
                        catch (Exception ex)
                        {
                            outcome = mayRetry && !received ? Outcome.RetryOnNewConnection : (Outcome)Report(context, ForwarderError.Request, ex);
                            goto Ended;
                        }

                        if (read == Http1UpstreamConnection.NotReadable)
                        {
                            continue; // woken by a stale edge: wait again (without a buffer)
                        }

                        if (read == 0)
                        {
                            outcome = mayRetry && !received ? Outcome.RetryOnNewConnection
                                : (Outcome)Report(context, ForwarderError.Request, new HttpIOException(HttpRequestError.ResponseEnded, "The upstream closed the connection before the response head was complete."));
                            goto Ended;
                        }

                        if (read < 0)
                        {
                            outcome = (Outcome)Report(context, ForwarderError.Request, new HttpRequestException(HttpRequestError.InvalidResponse, "The upstream response head is larger than maxResponseHeadersSize."));
                            goto Ended;
                        }

                        // The head as a whole must come within activityTimeout of sending (as with SocketsHttpHandler, whose
                        // SendAsync is one wait): no re-arming of the deadline per read.
                        received = true;
                        continue;
                    }

                    if (result.Status == Http1ParseStatus.Error)
                    {
                        outcome = (Outcome)Report(context, ForwarderError.Request, new HttpRequestException(HttpRequestError.InvalidResponse, $"Malformed upstream response: {Http1ErrorText.Describe(result.Error)}."));
                        goto Ended;
                    }

                    if (parser.Response.IsInterim)
                    {
                        connection.ResetResponse();
                        parser.Reset(http1Method);
                        continue;
                    }

                    if (parser.Response.IsUpgrade)
                    {
                        // Upgrades go through the YARP engine; a 101 to a plain request is not HTTP/1.1 any more.
                        outcome = (Outcome)Report(context, ForwarderError.Request, new HttpRequestException(HttpRequestError.InvalidResponse, "Unexpected 101 Switching Protocols from the upstream."));
                        goto Ended;
                    }

                    break;
                }

                var info = parser.Response;

                // :: Status and headers through the route's transformer (it may hold the answer back for a retry).
                var response = context.Response;
                response.StatusCode = info.StatusCode;
                if (connection.CustomReasonPhrase is { } reason && !HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
                {
                    context.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = reason;
                }

                bool copyBody;
                try
                {
                    if (direct)
                    {
                        Http1DirectPath.CopyResponseHeaders(connection, response);
                        copyBody = true;
                    }
                    else
                    {
                        connection.FillResponseMessage();
                        copyBody = await transformer.TransformResponseAsync(context, connection.Response, token).ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    response.Clear();
                    response.StatusCode = StatusCodes.Status502BadGateway;
                    outcome = (Outcome)Report(context, ForwarderError.ResponseHeaders, ex);
                    goto Ended;
                }

                if (!copyBody)
                {
                    // Held back: a body-less answer leaves the connection clean; any other body is not read, so it closes.
                    reusable = info.Framing == Http1BodyFraming.None && info.Reusable;
                    outcome = (Outcome)ForwarderError.None;
                    goto Ended;
                }

                // :: Body, streamed as it arrives (a small one already buffered is written without another suspension).
                var bodyResult = info.Framing == Http1BodyFraming.None ? ForwarderError.None
                    : await CopyResponseBodyAsync(context, connection, info, token).ConfigureAwait(false);
                if (bodyResult != ForwarderError.None)
                {
                    if (!response.HasStarted)
                    {
                        response.Clear();
                        response.StatusCode = StatusCodes.Status502BadGateway;
                    }
                    else
                    {
                        context.Abort();
                    }

                    outcome = (Outcome)bodyResult;
                    goto Ended;
                }

                if (!direct)
                {
                    await transformer.TransformResponseTrailersAsync(context, connection.Response, token).ConfigureAwait(false);
                }

                reusable = info.Reusable;
                outcome = (Outcome)ForwarderError.None;
            }
            finally
            {
                attemptRegistration.Dispose();
                abortRegistration.Dispose();
                if (link is not null && !link.Unlink())
                {
                    reusable = false; // an abort took the link and may still be cancelling the activity: not reused
                }

                if (connection.DisarmActivity() && reusable && connection.BufferedCount == 0)
                {
                    connection.ReleaseReadBufferIfEmpty();
                    connection.Exchanges++;
                    returnedAt = time.GetTimestamp();
                    pool.Return(connection, returnedAt);
                }
                else
                {
                    pool.Close(connection);
                }
            }

        Ended:
            if (outcome != Outcome.RetryOnNewConnection || !reused)
            {
                break;
            }

            // The classic keep-alive race: the upstream closed the pooled connection before it saw the request.
            if (hasBody)
            {
                context.Request.Body.Position = 0;
            }

            connection = pool.Create(EngineThreadOf(context));
            reused = false;
            if (direct)
            {
                connection.PrepareDirect(hasBody);
            }
        }

        var failure = outcome == Outcome.RetryOnNewConnection ? ForwarderError.Request : (ForwarderError)outcome;
        if (failure is ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.RequestCanceled
            or ForwarderError.RequestBodyClient or ForwarderError.RequestBodyDestination or ForwarderError.RequestBodyCanceled)
        {
            await OnRequestFailureAsync(context, transformer, failure, cancellationToken).ConfigureAwait(false);
        }

        var classified = YarpUpstreamSender.Classify(context, failure, cancellationToken);
        return returnedAt != 0 ? classified with { EndedAt = returnedAt } : classified;
    }

    private static Http1ParseResult ParseHead(Http1UpstreamConnection connection)
    {
        var handler = new HeadHandler(connection);
        var buffered = connection.BufferedSequence;
        var result = connection.Parser.Parse(ref handler, buffered, out var consumed, out _);
        connection.Consume(connection.OffsetOf(consumed));
        return result;
    }

    private readonly struct HeadHandler(Http1UpstreamConnection connection) : IHttp1ResponseHandler
    {
        public void OnStatusLine(Http1Version version, int statusCode, ReadOnlySpan<byte> reasonPhrase) => connection.OnStatusLine(version, statusCode, reasonPhrase);

        public void OnHeader(Http1KnownHeader known, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => connection.OnHeader(name, value);
    }

    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<ForwarderError> CopyResponseBodyAsync(HttpContext context, Http1UpstreamConnection connection, Http1ResponseInfo info, CancellationToken token)
    {
        var body = context.Response.Body;
        var time = connection.Pool.Cluster.Time;
        switch (info.Framing)
        {
            case Http1BodyFraming.None:
                return ForwarderError.None;

            case Http1BodyFraming.ContentLength:
                {
                    var remaining = info.ContentLength;
                    while (remaining > 0)
                    {
                        if (connection.BufferedCount == 0)
                        {
                            var read = await ReceiveBodyAsync(context, connection, token).ConfigureAwait(false);
                            if (read != ForwarderError.None)
                            {
                                return read;
                            }

                            connection.ArmActivity(time.GetTimestamp());
                        }

                        var take = (int)Math.Min(remaining, connection.BufferedCount);
                        var write = await WriteClientAsync(context, body, connection.BufferedMemory[..take], token).ConfigureAwait(false);
                        if (write != ForwarderError.None)
                        {
                            return write;
                        }

                        connection.Consume(take);
                        remaining -= take;
                    }

                    return ForwarderError.None;
                }

            case Http1BodyFraming.Chunked:
                {
                    var decoder = connection.Chunked;
                    decoder.Reset();
                    while (true)
                    {
                        var status = decoder.Decode(connection.BufferedSequence, out var consumed, out _, out var data);
                        switch (status)
                        {
                            case ChunkedStatus.Data:
                                {
                                    var write = await WriteClientAsync(context, body, data.First, token).ConfigureAwait(false);
                                    if (write != ForwarderError.None)
                                    {
                                        return write;
                                    }

                                    connection.Consume(connection.OffsetOf(consumed));
                                    break;
                                }

                            case ChunkedStatus.Complete:
                                connection.Consume(connection.OffsetOf(consumed));
                                return ForwarderError.None;
                            case ChunkedStatus.Error:
                                return Report(context, ForwarderError.ResponseBodyDestination, new HttpIOException(HttpRequestError.InvalidResponse, $"Malformed chunked upstream response body: {Http1ErrorText.Describe(decoder.Error.Error)}."));
                            default:
                                {
                                    connection.Consume(connection.OffsetOf(consumed));
                                    var read = await ReceiveBodyAsync(context, connection, token).ConfigureAwait(false);
                                    if (read != ForwarderError.None)
                                    {
                                        return read;
                                    }

                                    connection.ArmActivity(time.GetTimestamp());
                                    break;
                                }
                        }
                    }
                }

            default:
                {
                    // Close-delimited: everything until the upstream closes.
                    while (true)
                    {
                        if (connection.BufferedCount > 0)
                        {
                            var take = connection.BufferedCount;
                            var write = await WriteClientAsync(context, body, connection.BufferedMemory, token).ConfigureAwait(false);
                            if (write != ForwarderError.None)
                            {
                                return write;
                            }

                            connection.Consume(take);
                        }

                        int read;
                        try
                        {
                            read = connection.Received(await connection.ReceiveAsync(int.MaxValue, token).ConfigureAwait(false));
                        }
                        catch (OperationCanceledException)
                        {
                            return ForwarderError.ResponseBodyCanceled;
                        }
                        catch (Exception ex)
                        {
                            return Report(context, ForwarderError.ResponseBodyDestination, ex);
                        }

                        if (read == 0)
                        {
                            return ForwarderError.None;
                        }

                        connection.ArmActivity(time.GetTimestamp());
                    }
                }
        }

    }

    private static async ValueTask<ForwarderError> ReceiveBodyAsync(HttpContext context, Http1UpstreamConnection connection, CancellationToken token)
    {
        try
        {
            var read = connection.Received(await connection.ReceiveAsync(connection.Pool.Cluster.Limits.MaxTrailerBytes + (64 * 1024), token).ConfigureAwait(false));
            return read > 0 ? ForwarderError.None
                : Report(context, ForwarderError.ResponseBodyDestination, new HttpIOException(HttpRequestError.ResponseEnded, "The upstream closed the connection before the response body was complete."));
        }
        catch (OperationCanceledException ex)
        {
            return Report(context, ForwarderError.ResponseBodyCanceled, ex);
        }
        catch (Exception ex)
        {
            return Report(context, ForwarderError.ResponseBodyDestination, ex);
        }
    }

    private static async ValueTask<ForwarderError> WriteClientAsync(HttpContext context, Stream body, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        try
        {
            await body.WriteAsync(data, token).ConfigureAwait(false);
            return ForwarderError.None;
        }
        catch (OperationCanceledException ex)
        {
            return Report(context, ForwarderError.ResponseBodyCanceled, ex);
        }
        catch (Exception ex)
        {
            return Report(context, ForwarderError.ResponseBodyClient, ex);
        }
    }

    /// <summary>Streams the client's body upstream: as is with a Content-Length, else in chunks (as SocketsHttpHandler).</summary>
    [AsyncMethodBuilder(typeof(Async.PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<ForwarderError> SendBodyAsync(HttpContext context, Http1UpstreamConnection connection, long? length, CancellationToken token)
    {
        var source = context.Request.Body;
        var buffer = connection.BodyBuffer(ChunkPrefix + BodyChunk + 2);
        var remaining = length ?? long.MaxValue;
        while (true)
        {
            int read;
            try
            {
                var room = (int)Math.Min(BodyChunk, remaining);
                read = room == 0 ? 0 : await source.ReadAsync(buffer.Slice(ChunkPrefix, room), token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex)
            {
                return Report(context, ForwarderError.RequestBodyCanceled, ex);
            }
            catch (Exception ex)
            {
                return Report(context, ForwarderError.RequestBodyClient, ex);
            }

            if (read == 0 && length is { } expected && remaining > 0)
            {
                return Report(context, ForwarderError.RequestBodyClient, new IOException($"The client's body ended after {expected - remaining} of {expected} bytes."));
            }

            ReadOnlyMemory<byte> frame;
            if (length is null)
            {
                if (read == 0)
                {
                    frame = LastChunk;
                }
                else
                {
                    var end = FrameChunk(buffer.Span, read, out var start);
                    frame = buffer[start..end];
                }
            }
            else
            {
                frame = buffer.Slice(ChunkPrefix, read);
                remaining -= read;
            }

            if (frame.Length > 0)
            {
                try
                {
                    await connection.SendAsync(frame, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException ex)
                {
                    return Report(context, ForwarderError.RequestBodyCanceled, ex);
                }
                catch (Exception ex)
                {
                    return Report(context, ForwarderError.RequestBodyDestination, ex);
                }
            }

            if (read == 0 || (length is not null && remaining == 0))
            {
                return ForwarderError.None;
            }
        }
    }

    private static readonly byte[] LastChunk = "0\r\n\r\n"u8.ToArray();

    /// <summary>Writes the size line before the <paramref name="count"/> data bytes at <see cref="ChunkPrefix"/> and CRLF after; returns the end.</summary>
    private static int FrameChunk(Span<byte> buffer, int count, out int start)
    {
        var end = ChunkPrefix + count;
        buffer[end] = (byte)'\r';
        buffer[end + 1] = (byte)'\n';
        var position = ChunkPrefix - 2;
        buffer[position] = (byte)'\r';
        buffer[position + 1] = (byte)'\n';
        var value = count;
        do
        {
            var digit = value & 0xF;
            buffer[--position] = (byte)(digit < 10 ? '0' + digit : 'a' + digit - 10);
            value >>= 4;
        }
        while (value != 0);

        start = position;
        return end + 2;
    }

    /// <summary>The request line and header section, as SocketsHttpHandler writes them: Host first unless a transform set one.</summary>
    private static bool WriteHead(Http1UpstreamConnection connection, HttpRequestMessage request)
    {
        connection.BeginWrite();
        var ok = connection.WriteAscii(request.Method.Method);
        connection.Write(" "u8);
        ok &= connection.WriteAscii(request.RequestUri!.PathAndQuery);
        connection.Write(" HTTP/1.1\r\n"u8);
        var headers = request.Headers.NonValidated;
        if (!headers.Contains(HeaderNames.Host))
        {
            // Unless a transform set Host (then it is written in its place among the headers).
            connection.Write("Host: "u8);
            connection.Write(connection.Pool.HostHeader);
            connection.Write("\r\n"u8);
        }

        foreach (var header in headers)
        {
            ok &= WriteHeader(connection, header.Key, header.Value);
        }

        if (request.Content is { } content)
        {
            if (content.Headers.ContentLength is null && request.Headers.TransferEncodingChunked != true)
            {
                connection.Write("Transfer-Encoding: chunked\r\n"u8);
            }

            foreach (var header in content.Headers.NonValidated)
            {
                ok &= WriteHeader(connection, header.Key, header.Value);
            }
        }
        else if (MustHaveBody(request.Method))
        {
            connection.Write("Content-Length: 0\r\n"u8);
        }

        connection.Write("\r\n"u8);
        return ok;
    }

    private static bool WriteHeader(Http1UpstreamConnection connection, string name, System.Net.Http.Headers.HeaderStringValues values)
    {
        var ok = connection.WriteAscii(name);
        connection.Write(": "u8);
        var separator = name.Equals(HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase) ? "; "u8
            : name.Equals(HeaderNames.UserAgent, StringComparison.OrdinalIgnoreCase) ? " "u8 : ", "u8;
        var first = true;
        foreach (var value in values)
        {
            if (!first)
            {
                connection.Write(separator);
            }

            ok &= connection.WriteAscii(value);
            first = false;
        }

        connection.Write("\r\n"u8);
        return ok;
    }

    /// <summary>SocketsHttpHandler sends <c>Content-Length: 0</c> without content for every method but these.</summary>
    private static bool MustHaveBody(HttpMethod method) =>
        !(ReferenceEquals(method, HttpMethod.Get) || ReferenceEquals(method, HttpMethod.Head) || ReferenceEquals(method, HttpMethod.Connect)
          || ReferenceEquals(method, HttpMethod.Options) || ReferenceEquals(method, HttpMethod.Delete));

    private static bool IsIdempotent(HttpMethod method) =>
        ReferenceEquals(method, HttpMethod.Get) || ReferenceEquals(method, HttpMethod.Head) || ReferenceEquals(method, HttpMethod.Put)
        || ReferenceEquals(method, HttpMethod.Delete) || ReferenceEquals(method, HttpMethod.Options) || ReferenceEquals(method, HttpMethod.Trace);

    private static Http1Method ToHttp1Method(HttpMethod method) =>
        ReferenceEquals(method, HttpMethod.Head) ? Http1Method.Head : ReferenceEquals(method, HttpMethod.Connect) ? Http1Method.Connect : Http1Method.Get;

    /// <summary>Whether the request has a body to forward, decided as YARP's forwarder decides it.</summary>
    private static bool HasBody(HttpContext context)
    {
        var request = context.Request;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { } detection)
        {
            return detection.CanHaveBody;
        }

        if (request.Headers.TryGetValue(HeaderNames.TransferEncoding, out var te) && te.Count == 1 && string.Equals("chunked", te.ToString(), StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (request.Headers.ContentLength is { } length)
        {
            return length > 0;
        }

        return HttpProtocol.IsHttp2(request.Protocol) || HttpProtocol.IsHttp3(request.Protocol)
            ? !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsDelete(request.Method) || HttpMethods.IsConnect(request.Method) || HttpMethods.IsTrace(request.Method))
            : false;
    }

    private static ForwarderError CanceledOrTimedOut(HttpContext context, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested || context.RequestAborted.IsCancellationRequested ? ForwarderError.RequestCanceled : ForwarderError.RequestTimedOut;

    private static ForwarderError Report(HttpContext context, ForwarderError error, Exception? exception)
    {
        if (exception is not null || context.Features.Get<IForwarderErrorFeature>() is null)
        {
            context.Features.Set<IForwarderErrorFeature>(new RawForwarderErrorFeature(error, exception));
        }

        return error;
    }

    private sealed class RawForwarderErrorFeature(ForwarderError error, Exception? exception) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception { get; } = exception;
    }
}
