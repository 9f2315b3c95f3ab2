using Turnpike.Http1.Client;

namespace Turnpike.Tests.Http1.Client;

public sealed class ResponseHeaderStringsTests
{
    [Fact]
    public void EqualBytesAtAPositionGiveTheSameObjects()
    {
        var strings = new ResponseHeaderStrings();
        var name = strings.Name(0, "Content-Type"u8);
        var value = strings.Value(0, "text/plain"u8);

        Assert.Same(name, strings.Name(0, "Content-Type"u8));
        Assert.Same(value, strings.Value(0, "text/plain"u8));
        Assert.Equal("Content-Type", name.Value);
        Assert.Equal("text/plain", value);
    }

    [Fact]
    public void OtherBytesReplaceTheSlotAndPositionsAreSeparate()
    {
        var strings = new ResponseHeaderStrings();
        var first = strings.Value(1, "Tue, 01 Dec 2026 10:00:00 GMT"u8);
        var next = strings.Value(1, "Tue, 01 Dec 2026 10:00:01 GMT"u8);

        Assert.Equal("Tue, 01 Dec 2026 10:00:01 GMT", next);
        Assert.Same(next, strings.Value(1, "Tue, 01 Dec 2026 10:00:01 GMT"u8));
        Assert.NotSame(first, next);
        Assert.NotSame(strings.Value(2, "x"u8), strings.Value(3, "x"u8));
        Assert.Equal("Content-Length", strings.Name(2, "Content-Length"u8).Value);
        Assert.Equal("content-length", strings.Name(2, "content-length"u8).Value); // case is kept as sent
    }

    [Fact]
    public void FieldsBeyondTheSharedPositionsGetTheirOwnStrings()
    {
        var strings = new ResponseHeaderStrings();
        var position = ResponseHeaderStrings.Positions;

        var name = strings.Name(position, "X-Late"u8);
        Assert.Equal("X-Late", name.Value);
        Assert.NotSame(name, strings.Name(position, "X-Late"u8));
        Assert.Equal("v", strings.Value(position, "v"u8));
    }

    [Fact]
    public void NonAsciiBytesAreLatin1AndNeverShared()
    {
        var strings = new ResponseHeaderStrings();
        byte[] bytes = [0x63, 0xE9]; // "cé" in Latin-1

        var value = strings.Value(0, bytes);
        Assert.Equal("c\u00e9", value);
        Assert.NotSame(value, strings.Value(0, bytes));
    }

    [Fact]
    public void ANameIsUnclassifiedUntilSet()
    {
        var name = new ResponseHeaderStrings().Name(0, "Server"u8);
        Assert.Equal(ResponseHeaderName.Unclassified, name.Class);
        name.Class = 1;
        Assert.Equal(1, name.Class);
    }
}
