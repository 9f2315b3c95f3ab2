using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Turnpike.Forwarding;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Tests.Retries;

public sealed class RefusedStreamTests
{
    private sealed class ErrorFeature(ForwarderError error, Exception exception) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception { get; } = exception;
    }

    private static UpstreamResult Classify(Exception exception)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IForwarderErrorFeature>(new ErrorFeature(ForwarderError.Request, exception));
        return YarpUpstreamSender.Classify(context, ForwarderError.Request, CancellationToken.None);
    }

    [Fact]
    public void Http2RefusedStreamCountsAsNeverSent()
    {
        var result = Classify(new HttpRequestException(HttpRequestError.HttpProtocolError, "refused", new HttpProtocolException(0x7, "REFUSED_STREAM", null)));
        Assert.Equal(UpstreamOutcome.Refused, result.Outcome);
        Assert.True(result.NeverSent);
        Assert.Equal(0, result.Status);
    }

    [Fact]
    public void OtherHttp2ResetsMayHaveBeenProcessed()
    {
        var result = Classify(new HttpRequestException(HttpRequestError.HttpProtocolError, "cancel", new HttpProtocolException(0x8, "CANCEL", null)));
        Assert.Equal(UpstreamOutcome.UpstreamError, result.Outcome);
        Assert.Equal(GatewayErrorCode.UpstreamReset, result.Error);
        Assert.False(result.NeverSent);
    }

    [Fact]
    public void SuccessCarriesTheUpstreamStatus()
    {
        var context = new DefaultHttpContext();
        context.Response.StatusCode = 503;
        var result = YarpUpstreamSender.Classify(context, ForwarderError.None, CancellationToken.None);
        Assert.Equal((UpstreamOutcome.Success, 503), (result.Outcome, result.Status));
    }
}
