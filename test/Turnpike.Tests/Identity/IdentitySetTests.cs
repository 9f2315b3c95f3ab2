using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Configuration;
using Turnpike.Identity;

namespace Turnpike.Tests.Identity;

public sealed class IdentitySetTests
{
    private static GatewayConfig Config(string secret) => YamlConfigReader.Read(
        $"listeners: {{ l: {{ port: 0 }} }}\nauthSchemes:\n  s: {{ type: jwt, secret: \"{secret}\" }}\n  k: {{ type: apiKey, keys: {{ a: 'abcdefghijklmnop' }} }}\nroutes: {{}}\nclusters: {{}}\n",
        "i.yaml").Config!;

    [Fact]
    public void AReloadKeepsUnchangedSchemesAndEveryCounter()
    {
        var first = IdentitySet.Build(Config("0123456789abcdef0123456789abcdef"), null, TimeProvider.System, NullLogger.Instance);
        first.Schemes["s"].Counters.OnFailure(AuthReasons.Expired);

        var same = IdentitySet.Build(Config("0123456789abcdef0123456789abcdef"), first, TimeProvider.System, NullLogger.Instance);
        Assert.Same(first.Schemes["s"].Scheme, same.Schemes["s"].Scheme);
        Assert.Same(first.Schemes["k"].Scheme, same.Schemes["k"].Scheme);

        var changed = IdentitySet.Build(Config("0123456789abcdef0123456789abcdeX"), same, TimeProvider.System, NullLogger.Instance);
        Assert.NotSame(same.Schemes["s"].Scheme, changed.Schemes["s"].Scheme);
        Assert.Same(same.Schemes["k"].Scheme, changed.Schemes["k"].Scheme);
        Assert.Equal(1, changed.Schemes["s"].Counters.Failures(AuthReasons.Expired));
        Assert.Empty(IdentitySet.Build(new GatewayConfig(), changed, TimeProvider.System, NullLogger.Instance).Schemes);
    }
}
