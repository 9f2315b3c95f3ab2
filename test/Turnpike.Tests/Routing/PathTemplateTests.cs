using Microsoft.AspNetCore.Routing;
using Turnpike.Routing;

namespace Turnpike.Tests.Routing;

public sealed class PathTemplateTests
{
    [Theory]
    [InlineData("/", "/", true)]
    [InlineData("/", "/a", false)]
    [InlineData("/api/items", "/api/items", true)]
    [InlineData("/api/items", "/API/Items/", true)]
    [InlineData("/api/items", "/api/items/1", false)]
    [InlineData("/api/{id}", "/api/42", true)]
    [InlineData("/api/{id}", "/api/", false)]
    [InlineData("/api/{id}", "/api", false)]
    [InlineData("/api/{**rest}", "/api", true)]
    [InlineData("/api/{**rest}", "/api/a/b/c", true)]
    [InlineData("/api/{**rest}", "/apix", false)]
    [InlineData("/{**rest}", "/anything/at/all", true)]
    public void Matches(string template, string path, bool expected)
    {
        Assert.True(PathTemplate.TryParse(template, out var t, out var error), error);
        Assert.Equal(expected, t!.TryMatch(path, null));
    }

    [Fact]
    public void CapturesParameters()
    {
        PathTemplate.TryParse("/users/{id}/files/{**path}", out var t, out _);
        var values = new RouteValueDictionary();
        Assert.True(t!.TryMatch("/users/7/files/a/b.txt", values));
        Assert.Equal("7", values["id"]);
        Assert.Equal("a/b.txt", values["path"]);
        Assert.True(t.HasParameters);
        Assert.Equal("users", t.FirstLiteral);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("/a//b")]
    [InlineData("/a/{**x}/b")]
    [InlineData("/a/{}")]
    [InlineData("/a/{x}/{x}")]
    [InlineData("/a/b{x}")]
    [InlineData("/a/{x-y}")]
    public void RejectsInvalidTemplates(string template)
    {
        Assert.False(PathTemplate.TryParse(template, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
