using Microsoft.IdentityModel.Tokens;
using Turnpike.Identity;
using Turnpike.Identity.Jwt;

namespace Turnpike.Tests.Identity;

public sealed class JwtHeaderGuardTests
{
    private static readonly string[] Allowed = ["RS256", "ES256"];

    private static string? Check(string headerJson) => JwtHeaderGuard.Check(Base64UrlEncoder.Encode(headerJson) + ".e30.c2ln", Allowed, out _);

    [Theory]
    [InlineData("""{"alg":"RS256","kid":"k1"}""", null)]
    [InlineData("""{"alg":"ES256","typ":"JWT","x":{"nested":[1,2]}}""", null)]
    [InlineData("""{"alg":"none"}""", AuthReasons.DisallowedAlgorithm)]
    [InlineData("""{"alg":"rs256"}""", AuthReasons.DisallowedAlgorithm)]
    [InlineData("""{"kid":"k1"}""", AuthReasons.DisallowedAlgorithm)]
    [InlineData("""{"alg":["RS256"]}""", AuthReasons.DisallowedAlgorithm)]
    [InlineData("""{"alg":"RS256","alg":"none"}""", AuthReasons.DisallowedAlgorithm)]
    [InlineData("""{"alg":"RS256","jku":"https://evil"}""", AuthReasons.HostileHeader)]
    [InlineData("""{"alg":"RS256","x5u":"https://evil"}""", AuthReasons.HostileHeader)]
    [InlineData("""{"alg":"RS256","jwk":{}}""", AuthReasons.HostileHeader)]
    [InlineData("""{"alg":"RS256","x5c":[]}""", AuthReasons.HostileHeader)]
    [InlineData("""{"alg":"RS256","crit":["b64"]}""", AuthReasons.HostileHeader)]
    [InlineData("""{"alg":"RS256","kid":"../../etc/passwd"}""", AuthReasons.BadKid)]
    [InlineData("""{"alg":"RS256","kid":"a/b"}""", AuthReasons.BadKid)]
    [InlineData("""{"alg":"RS256","kid":"a\\b"}""", AuthReasons.BadKid)]
    [InlineData("""{"alg":"RS256","kid":""}""", AuthReasons.BadKid)]
    [InlineData("""{"alg":"RS256","kid":1}""", AuthReasons.BadKid)]
    [InlineData("""[1]""", AuthReasons.Malformed)]
    [InlineData("""{"alg":"RS256" """, AuthReasons.Malformed)]
    public void ChecksTheHeader(string header, string? expected) => Assert.Equal(expected, Check(header));

    [Theory]
    [InlineData("abc", AuthReasons.Malformed)]
    [InlineData(".a.b", AuthReasons.Malformed)]
    [InlineData("a.b", AuthReasons.Malformed)]
    [InlineData("a.b.c.d.e", AuthReasons.Encrypted)]
    [InlineData("!!!.e30.x", AuthReasons.Malformed)]
    public void ChecksTheShape(string token, string expected) => Assert.Equal(expected, JwtHeaderGuard.Check(token, Allowed, out _));

    [Fact]
    public void LongKidsAreRefused()
    {
        Assert.Null(Check($$"""{"alg":"RS256","kid":"{{new string('k', 256)}}"}"""));
        Assert.Equal(AuthReasons.BadKid, Check($$"""{"alg":"RS256","kid":"{{new string('k', 257)}}"}"""));
    }
}
