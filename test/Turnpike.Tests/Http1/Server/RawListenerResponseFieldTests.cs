using System.Text;
using Turnpike.Http1.Server;

namespace Turnpike.Tests.Http1.Server;

/// <summary>
/// Response fields set by the application are written as Latin-1 (as Kestrel writes them), and a field that holds CR,
/// LF, NUL or a character above U+00FF never reaches the client: the head is found unwritable once the application is
/// done, and the connection is closed without an answer (Kestrel refuses such a value in the setter, inside the app,
/// so the app's exception becomes a 500 there).
/// </summary>
public sealed class RawListenerResponseFieldTests
{
    [Fact]
    public async Task Latin1FieldsAreWrittenByteForByte()
    {
        await using var listener = TestRawListener.Start("fields", context =>
        {
            context.Response.Headers["X-Name"] = "caf\u00e9\tbar \u00ff~!";
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        });

        var answer = await TestRawListener.ExchangeToCloseAsync(listener);

        Assert.StartsWith("HTTP/1.1 200 ", Encoding.Latin1.GetString(answer));
        var line = Encoding.Latin1.GetBytes("\r\nX-Name: caf\u00e9\tbar \u00ff~!\r\n");
        Assert.Contains((byte)0xE9, line);
        Assert.True(answer.AsSpan().IndexOf(line) >= 0, Encoding.Latin1.GetString(answer));
    }

    [Theory]
    [InlineData("X-Bad", "a\rb")]
    [InlineData("X-Bad", "a\nb")]
    [InlineData("X-Bad", "a\0b")]
    [InlineData("X-Bad", "a\u0100b")]
    [InlineData("X-Bad", "\u20ac")]
    [InlineData("X-\u0100", "1")]
    public async Task AFieldThatCannotBeWrittenClosesTheConnectionWithoutAnAnswer(string name, string value)
    {
        await using var listener = TestRawListener.Start("fields", context =>
        {
            context.Response.Headers[name] = value;
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        });

        Assert.Empty(await TestRawListener.ExchangeToCloseAsync(listener));
    }
}
