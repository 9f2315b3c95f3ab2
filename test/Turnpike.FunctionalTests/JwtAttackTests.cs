using System.Net;
using System.Security.Cryptography;
using System.Text;
using Turnpike.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Turnpike.FunctionalTests;

/// <summary>
/// RFC 8725 attack suite against a JWKS-backed scheme (RS256 and ES256 allowed): every forged, tampered, expired or
/// malformed token gets 401 (431 for one too large for the header limits), never a 5xx, and none reaches the upstream.
/// </summary>
public sealed class JwtAttackTests(ITestOutputHelper output)
{
    [Fact]
    public async Task EveryAttackIsRejectedWith401AndNothingReachesTheUpstream()
    {
        await using var issuer = await TestIssuer.StartAsync();
        var rsa = IssuerKey.NewRsa("rsa1");
        var ec = IssuerKey.NewEc("ec1");
        issuer.Publish(rsa, ec);
        await using var backend = await TestBackend.StartEchoAsync();
        await using var gw = await GatewayHost.StartAsync(IdentityTests.Gateway(backend.Address, $$"""
              users:
                type: jwt
                issuer: {{TestIssuer.Issuer}}
                audiences: [{{TestIssuer.Audience}}]
                algorithms: [RS256, ES256]
                jwksUrl: {{issuer.JwksUrl}}
                clockSkew: 30s
            """, "      schemes: [users]"));

        var attacker = IssuerKey.NewRsa("rsa1"); // same kid, different key
        var valid = TestIssuer.Mint(rsa);
        var parts = valid.Split('.');
        byte[] SignRs(byte[] data) => rsa.Rsa!.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        byte[] SignAttacker(byte[] data) => attacker.Rsa!.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var payload = TestIssuer.ValidPayload();
        var rsaPublicPem = Encoding.ASCII.GetBytes(rsa.Rsa!.ExportSubjectPublicKeyInfoPem());
        var attackerJwk = attacker.Jwk().ToJsonString();
        var now = DateTime.UtcNow;

        var attacks = new List<(string Name, string Token)>
        {
            ("alg none", TestIssuer.Jws("""{"alg":"none","typ":"JWT"}""", payload, null)),
            ("alg None", TestIssuer.Jws("""{"alg":"None","typ":"JWT"}""", payload, null)),
            ("alg NONE", TestIssuer.Jws("""{"alg":"NONE","typ":"JWT"}""", payload, null)),
            ("alg nOnE", TestIssuer.Jws("""{"alg":"nOnE","typ":"JWT"}""", payload, null)),
            ("alg none with kid", TestIssuer.Jws("""{"alg":"none","kid":"rsa1"}""", payload, null) ),
            ("alg empty", TestIssuer.Jws("""{"alg":"","kid":"rsa1"}""", payload, null)),
            ("HS256 signed with the RSA public key", TestIssuer.Jws("""{"alg":"HS256","typ":"JWT","kid":"rsa1"}""", payload, d => HMACSHA256.HashData(rsaPublicPem, d))),
            ("stripped signature", parts[0] + "." + parts[1] + "."),
            ("stripped signature, two parts", parts[0] + "." + parts[1]),
            ("tampered payload", parts[0] + "." + TestIssuer.B64(TestIssuer.ValidPayload("admin")) + "." + parts[2]),
            ("wrong key, same kid", TestIssuer.Mint(attacker)),
            ("expired", TestIssuer.Mint(rsa, expires: now.AddMinutes(-5))),
            ("nbf in the future", TestIssuer.Mint(rsa, notBefore: now.AddMinutes(5), expires: now.AddMinutes(20))),
            ("missing exp", TestIssuer.Mint(rsa, noExpiration: true)),
            ("wrong iss", TestIssuer.Mint(rsa, issuer: "https://evil.test")),
            ("wrong aud", TestIssuer.Mint(rsa, audience: "other-api")),
            ("kid path traversal", TestIssuer.Jws("""{"alg":"RS256","kid":"../../../../etc/passwd"}""", payload, SignRs)),
            ("kid with slash", TestIssuer.Jws("""{"alg":"RS256","kid":"/dev/null"}""", payload, SignRs)),
            ("kid sql", TestIssuer.Jws("""{"alg":"RS256","kid":"x' OR '1'='1"}""", payload, SignRs)),
            ("kid huge", TestIssuer.Jws($$"""{"alg":"RS256","kid":"{{new string('a', 5000)}}"}""", payload, SignRs)),
            ("kid not a string", TestIssuer.Jws("""{"alg":"RS256","kid":{"a":1}}""", payload, SignRs)),
            ("embedded jwk", TestIssuer.Jws($$"""{"alg":"RS256","kid":"rsa1","jwk":{{attackerJwk}}}""", payload, SignAttacker)),
            ("jku to another host", TestIssuer.Jws("""{"alg":"RS256","kid":"evil","jku":"http://evil.test/jwks.json"}""", payload, SignAttacker)),
            ("x5u to another host", TestIssuer.Jws("""{"alg":"RS256","kid":"evil","x5u":"http://evil.test/cert.pem"}""", payload, SignAttacker)),
            ("crit header", TestIssuer.Jws("""{"alg":"RS256","kid":"rsa1","crit":["exp"],"exp":1}""", payload, SignRs)),
            ("ES256 with r=s=0", TestIssuer.Jws("""{"alg":"ES256","kid":"ec1"}""", payload, _ => new byte[64])),
            ("ES256 on the RSA key", TestIssuer.Jws("""{"alg":"ES256","kid":"rsa1"}""", payload, d => ec.Ec!.SignData(d, HashAlgorithmName.SHA256))),
            ("RS512 not allowed", TestIssuer.Jws("""{"alg":"RS512","kid":"rsa1"}""", payload, d => rsa.Rsa!.SignData(d, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1))),
            ("duplicate alg", TestIssuer.Jws("""{"alg":"RS256","alg":"none","kid":"rsa1"}""", payload, SignRs)),
            ("JWE (five parts)", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"),
            ("garbage", "not-a-jwt"),
            ("garbage dots", "...."),
            ("garbage base64", "!!!.@@@.###"),
            ("header not json", TestIssuer.B64("hello") + "." + parts[1] + "." + parts[2]),
            ("header array", TestIssuer.B64("[1,2]") + "." + parts[1] + "." + parts[2]),
            ("payload not json", parts[0] + "." + TestIssuer.B64("{{{") + "." + parts[2]),
            ("16 KiB + 1 token", new string('a', 16 * 1024 + 1)),
        };

        foreach (var (name, token) in attacks)
        {
            using var response = await gw.Client.SendAsync(IdentityTests.Get(gw, token));
            output.WriteLine($"{name}: {(int)response.StatusCode}");
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {(int)response.StatusCode}");
        }

        // A 64 KiB token exceeds the header limits (32 KiB by default): 431 from Kestrel, before the gateway's code runs.
        using (var huge = await gw.Client.SendAsync(IdentityTests.Get(gw, new string('a', 64 * 1024))))
        {
            output.WriteLine($"64 KiB token: {(int)huge.StatusCode}");
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, huge.StatusCode);
        }

        // Other shapes of the header: not Bearer (no credentials: 401), two Authorization headers, "Bearer" alone.
        foreach (var header in new[] { "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer  " })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/orders"));
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await gw.Client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"'{header}': {(int)response.StatusCode}");
        }

        using (var twice = new HttpRequestMessage(HttpMethod.Get, gw.Combine("/orders")))
        {
            twice.Headers.TryAddWithoutValidation("Authorization", ["Bearer " + valid, "Bearer " + valid]);
            using var response = await gw.Client.SendAsync(twice);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(0, backend.Requests);

        // The suite can fail: the genuine token and an ES256 one pass.
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(IdentityTests.Get(gw, valid))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gw.Client.SendAsync(IdentityTests.Get(gw, TestIssuer.Mint(ec)))).StatusCode);
        Assert.Equal(2, backend.Requests);

        var status = await IdentityTests.SchemeStatus(gw, "users");
        output.WriteLine(status.ToJsonString());
    }
}
