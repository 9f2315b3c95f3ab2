using System.Security.Claims;
using Turnpike.Configuration;
using Turnpike.Identity.Authorization;

namespace Turnpike.Tests.Identity;

public sealed class AuthorizationRulesTests
{
    private static ClaimsPrincipal User(params (string Type, string Value)[] claims) =>
        new(new ClaimsIdentity(claims.Select(c => new Claim(c.Type, c.Value)), "test"));

    private static AuthorizationRules Rules(AuthRequirementsConfig config) => AuthorizationRules.Create(config)!;

    [Fact]
    public void NoRequirementsMeansNoRules() => Assert.Null(AuthorizationRules.Create(new AuthRequirementsConfig()));

    [Fact]
    public void ScopesComeFromSpaceSeparatedScopeAndFromScp()
    {
        var any = Rules(new AuthRequirementsConfig { Scopes = new ValueSetRequirement { Any = ["orders.read", "orders.admin"] } });
        Assert.True(any.Allows(User(("scope", "profile orders.read"))));
        Assert.True(any.Allows(User(("scp", "orders.admin"))));
        Assert.False(any.Allows(User(("scope", "orders.readx orders"))));
        Assert.False(any.Allows(User(("sub", "orders.read"))));

        var all = Rules(new AuthRequirementsConfig { Scopes = new ValueSetRequirement { All = ["a", "b"] } });
        Assert.True(all.Allows(User(("scope", "b a"))));
        Assert.True(all.Allows(User(("scp", "a"), ("scp", "b"))));
        Assert.False(all.Allows(User(("scope", "a"))));
    }

    [Fact]
    public void RolesAndClaimRulesMustAllHold()
    {
        var rules = Rules(new AuthRequirementsConfig
        {
            Roles = new ValueSetRequirement { Any = ["admin", "ops"] },
            Claims =
            [
                new ClaimRequirementConfig("tenant", ClaimMatchMode.Prefix, "acme-"),
                new ClaimRequirementConfig("email", ClaimMatchMode.Regex, "@example\\.com$"),
                new ClaimRequirementConfig("plan", ClaimMatchMode.Exact, "gold"),
            ],
        });
        (string, string)[] good = [("roles", "ops"), ("tenant", "acme-eu"), ("email", "a@example.com"), ("plan", "gold")];
        Assert.True(rules.Allows(User(good)));
        for (var i = 0; i < good.Length; i++)
        {
            var without = good.Where((_, j) => j != i).ToArray();
            Assert.False(rules.Allows(User(without)));
        }

        Assert.False(rules.Allows(User(("roles", "ops"), ("tenant", "ACME-eu"), ("email", "a@example.com"), ("plan", "gold"))));
        Assert.False(rules.Allows(User(("roles", "ops"), ("tenant", "acme-eu"), ("email", "a@example.com.evil"), ("plan", "gold"))));
        Assert.False(rules.Allows(User(("roles", "ops"), ("tenant", "acme-eu"), ("email", "a@example.com"), ("plan", "golden"))));
        Assert.True(rules.Allows(User(("role", "admin"), ("tenant", "x"), ("tenant", "acme-1"), ("email", "b@example.com"), ("plan", "gold"))));
    }
}
