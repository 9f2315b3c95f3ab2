using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turnpike.FunctionalTests.Grpc;
using Turnpike.FunctionalTests.Infrastructure;

namespace Turnpike.FunctionalTests;

/// <summary>
/// gRPC through the gateway: a real Grpc.AspNetCore server behind an h2c listener and an HTTP/2 cluster, called
/// with Grpc.Net.Client (and once with a raw HttpClient, to look at the wire-level trailers).
/// </summary>
public sealed class GrpcTests
{
    [Fact]
    public async Task UnaryCallReturnsPayloadStatusAndTrailers()
    {
        await using var backend = await StartGrpcBackendAsync();
        await using var gw = await StartGatewayAsync(backend);
        using var channel = CreateChannel(gw);
        var client = new Greeter.GreeterClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var call = client.SayHelloAsync(new HelloRequest { Name = "turnpike" }, cancellationToken: cts.Token);
        var reply = await call.ResponseAsync;

        Assert.Equal("hello turnpike", reply.Message);
        Assert.Equal("HTTP/2", reply.Protocol);
        Assert.Equal(gw.Url.Authority, reply.ForwardedHost);
        var headers = await call.ResponseHeadersAsync;
        Assert.Equal("header-value", headers.GetValue("x-custom-header"));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("trailer-value", call.GetTrailers().GetValue("x-custom-trailer"));
    }

    [Fact]
    public async Task UnaryErrorStatusAndMessageReachTheClient()
    {
        await using var backend = await StartGrpcBackendAsync();
        await using var gw = await StartGatewayAsync(backend);
        using var channel = CreateChannel(gw);
        var client = new Greeter.GreeterClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.SayHelloAsync(new HelloRequest { Name = "" }, cancellationToken: cts.Token));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("name is required", error.Status.Detail);
    }

    [Fact]
    public async Task ServerStreamingDeliversMessagesInOrder()
    {
        await using var backend = await StartGrpcBackendAsync();
        await using var gw = await StartGatewayAsync(backend);
        using var channel = CreateChannel(gw);
        var client = new Greeter.GreeterClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var call = client.Count(new CountRequest { Count = 20, Prefix = "n" }, cancellationToken: cts.Token);
        var received = new List<CountReply>();
        await foreach (var message in call.ResponseStream.ReadAllAsync(cts.Token))
        {
            received.Add(message);
        }

        Assert.Equal(Enumerable.Range(0, 20), received.Select(m => m.Index));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"n{i}"), received.Select(m => m.Text));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("trailer-value", call.GetTrailers().GetValue("x-custom-trailer"));
    }

    [Fact]
    public async Task ServerStreamingErrorAfterMessagesArrivesInTrailers()
    {
        await using var backend = await StartGrpcBackendAsync();
        await using var gw = await StartGatewayAsync(backend);
        using var channel = CreateChannel(gw);
        var client = new Greeter.GreeterClient(channel);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var call = client.Count(new CountRequest { Count = 10, Prefix = "m", FailAfter = 3 }, cancellationToken: cts.Token);
        var received = new List<int>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(cts.Token))
            {
                received.Add(message.Index);
            }
        });

        Assert.Equal([0, 1, 2], received);
        Assert.Equal(StatusCode.Aborted, error.StatusCode);
        Assert.Equal("stopped after 3", error.Status.Detail);
        Assert.Equal("trailer-value", error.Trailers.GetValue("x-custom-trailer"));
    }

    [Fact]
    public async Task RawHttp2RequestSeesGrpcFramingAndTrailers()
    {
        await using var backend = await StartGrpcBackendAsync();
        await using var gw = await StartGatewayAsync(backend);
        using var client = GatewayHost.CreateClient(HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var payload = new HelloRequest { Name = "raw" }.ToByteArray();
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, gw.Combine("/turnpike.test.Greeter/SayHello"))
        {
            Content = new ByteArrayContent(frame),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsByteArrayAsync(cts.Token);

        // One uncompressed, length-prefixed message, then the trailers.
        Assert.True(body.Length >= 5, $"response body too short: {body.Length} bytes");
        Assert.Equal(0, body[0]);
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
        Assert.Equal(body.Length - 5, length);
        Assert.Equal("hello raw", HelloReply.Parser.ParseFrom(body, 5, length).Message);
        Assert.Equal("0", Assert.Single(response.TrailingHeaders.GetValues("grpc-status")));
        Assert.Equal("trailer-value", Assert.Single(response.TrailingHeaders.GetValues("x-custom-trailer")));
        Assert.False(response.Headers.Contains("grpc-status"), "grpc-status belongs in the trailers of a response with a body");
    }

    private static Task<GatewayHost> StartGatewayAsync(TestBackend backend) => GatewayHost.StartAsync($$"""
        listeners:
          grpc: { address: 127.0.0.1, port: 0, protocols: http2 }
        routes:
          grpc:
            match: { pathPrefix: /turnpike.test.Greeter }
            cluster: c
        clusters:
          c:
            http: { version: "2" }
            destinations:
              d1: {{backend.Address}}
        """);

    private static GrpcChannel CreateChannel(GatewayHost gw) => GrpcChannel.ForAddress(gw.Url, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { UseProxy = false },
        DisposeHttpClient = true,
    });

    private sealed class GreeterService : Greeter.GreeterBase
    {
        public override async Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        {
            if (request.Name.Length == 0)
            {
                // Nothing written yet: a "trailers-only" response, the status travels in the only HEADERS frame.
                throw new RpcException(new Status(StatusCode.InvalidArgument, "name is required"));
            }

            await context.WriteResponseHeadersAsync(new Metadata { { "x-custom-header", "header-value" } });
            context.ResponseTrailers.Add("x-custom-trailer", "trailer-value");

            var http = context.GetHttpContext();
            return new HelloReply
            {
                Message = "hello " + request.Name,
                Protocol = http.Request.Protocol,
                ForwardedHost = http.Request.Headers["x-forwarded-host"].ToString(),
            };
        }

        public override async Task Count(CountRequest request, IServerStreamWriter<CountReply> responseStream, ServerCallContext context)
        {
            context.ResponseTrailers.Add("x-custom-trailer", "trailer-value");
            for (var i = 0; i < request.Count; i++)
            {
                if (request.FailAfter > 0 && i == request.FailAfter)
                {
                    throw new RpcException(new Status(StatusCode.Aborted, $"stopped after {i}"));
                }

                await responseStream.WriteAsync(new CountReply { Index = i, Text = request.Prefix + i }, context.CancellationToken);
            }
        }
    }

    /// <summary>A Grpc.AspNetCore server on an h2c-only Kestrel endpoint, 127.0.0.1 port 0.</summary>
    private static Task<TestBackend> StartGrpcBackendAsync() =>
        TestBackend.StartAppAsync(HttpProtocols.Http2, services => services.AddGrpc(), app => app.MapGrpcService<GreeterService>());
}
