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

    [Fact]
    public void APositionsSharedStringsGiveOneHeadLineUntilOneChanges()
    {
        var strings = new ResponseHeaderStrings();
        var name = strings.Name(0, "Date"u8);
        var value = strings.Value(0, "Tue, 01 Dec 2026 10:00:00 GMT"u8);

        var line = strings.Line(0, name, value);
        Assert.NotNull(line);
        Assert.Equal("Date: Tue, 01 Dec 2026 10:00:00 GMT\r\n"u8.ToArray(), line);
        Assert.Same(line, strings.Line(0, strings.Name(0, "Date"u8), strings.Value(0, "Tue, 01 Dec 2026 10:00:00 GMT"u8)));

        var next = strings.Value(0, "Tue, 01 Dec 2026 10:00:01 GMT"u8);
        var nextLine = strings.Line(0, name, next);
        Assert.Equal("Date: Tue, 01 Dec 2026 10:00:01 GMT\r\n"u8.ToArray(), nextLine);
        Assert.NotSame(line, nextLine);
        Assert.Null(strings.Line(0, name, value)); // no longer the position's value string
    }

    [Fact]
    public void StringsThatAreNotThePositionsSharedOnesGetNoLine()
    {
        var strings = new ResponseHeaderStrings();
        byte[] latin1 = [0x63, 0xE9];
        var name = strings.Name(0, "X-Name"u8);

        Assert.Null(strings.Line(0, name, strings.Value(0, latin1))); // a fresh string every time: nothing to share
        Assert.Null(strings.Line(1, name, strings.Value(1, "v"u8))); // the name belongs to position 0
        var late = ResponseHeaderStrings.Positions;
        Assert.Null(strings.Line(late, strings.Name(late, "X-Late"u8), strings.Value(late, "v"u8)));
    }
}
