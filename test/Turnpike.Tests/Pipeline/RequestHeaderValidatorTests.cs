using Microsoft.AspNetCore.Http;
using Turnpike.Pipeline;

namespace Turnpike.Tests.Pipeline;

public sealed class RequestHeaderValidatorTests
{
    [Theory]
    [InlineData("plain value", true)]
    [InlineData("tab\there", true)]
    [InlineData("~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./", true)]
    [InlineData("caf\u00e9", false)]
    [InlineData("ctl\u0001", false)]
    [InlineData("del\u007f", false)]
    [InlineData("nl\nx", false)]
    public void ChecksFieldValues(string value, bool ok)
    {
        var headers = new HeaderDictionary { ["x-test"] = value, ["accept"] = "*/*" };
        Assert.Equal(ok, RequestHeaderValidator.AreForwardable(headers));
    }
}
