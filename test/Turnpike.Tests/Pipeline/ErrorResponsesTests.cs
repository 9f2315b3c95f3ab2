using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Turnpike.Forwarding;
using Turnpike.Pipeline;

namespace Turnpike.Tests.Pipeline;

public sealed class ErrorResponsesTests
{
    [Theory]
    [InlineData("NoRoute", 404, "no_route")]
    [InlineData("InvalidHeader", 400, "invalid_header")]
    [InlineData("NoHealthyDestination", 503, "no_healthy_destination")]
    [InlineData("ConnectionRefused", 502, "connection_refused")]
    [InlineData("ConnectTimeout", 504, "connect_timeout")]
    [InlineData("UpstreamTimeout", 504, "upstream_timeout")]
    [InlineData("UpstreamReset", 502, "upstream_reset")]
    [InlineData("ConcurrencyLimited", 503, "concurrency_limited")]
    [InlineData("RateLimited", 429, "rate_limited")]
    public async Task WritesStatusReasonAndJsonBody(string name, int status, string reason)
    {
        var code = Enum.Parse<GatewayErrorCode>(name);
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        await ErrorResponses.WriteAsync(context, code);

        Assert.Equal(status, context.Response.StatusCode);
        Assert.Equal(reason, context.Response.Headers[ErrorResponses.ReasonHeader].ToString());
        Assert.Equal("application/json", context.Response.ContentType);
        using var json = JsonDocument.Parse(body.ToArray());
        Assert.Equal(reason, json.RootElement.GetProperty("error").GetString());
        Assert.Equal(status, json.RootElement.GetProperty("status").GetInt32());
        Assert.Equal(body.Length, context.Response.ContentLength);
    }

    [Fact]
    public void EveryCodeHasADistinctReason()
    {
        var reasons = Enum.GetValues<GatewayErrorCode>().Where(c => c != GatewayErrorCode.None).Select(ErrorResponses.ReasonOf).ToList();
        Assert.Equal(reasons.Count, reasons.Distinct().Count());
        Assert.DoesNotContain("internal", reasons);
    }
}
