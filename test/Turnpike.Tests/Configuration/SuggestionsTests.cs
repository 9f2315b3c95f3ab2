using Turnpike.Configuration;

namespace Turnpike.Tests.Configuration;

public sealed class SuggestionsTests
{
    [Theory]
    [InlineData("protocol", "protocols")]
    [InlineData("clustr", "cluster")]
    [InlineData("Transforms", "transforms")]
    public void SuggestsTheClosestKey(string input, string expected) =>
        Assert.Equal(expected, Suggestions.Closest(input, ["protocols", "cluster", "transforms", "match", "order"]));

    [Fact]
    public void DoesNotSuggestUnrelatedNames() => Assert.Null(Suggestions.Closest("zzzzzz", ["match", "order"]));
}
