using System.Net.Sockets;
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

        var answer = await ExchangeAsync(listener);

        Assert.StartsWith("HTTP/1.1 200 ", Encoding.Latin1.GetString(answer));
        var line = Encoding.Latin1.GetBytes("\r\nX-Name: caf\u00e9\tbar \u00ff~!\r\n");
        Assert.Contains((byte)0xE9, line);
        Assert.True(answer.AsSpan().IndexOf(line) >= 0, Encoding.Latin1.GetString(answer));
    }

    [Theory]
    [InlineData("a\rb")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    [InlineData("a\u0100b")]
    [InlineData("\u20ac")]
    public async Task AFieldThatCannotBeWrittenClosesTheConnectionWithoutAnAnswer(string value)
    {
        await using var listener = TestRawListener.Start("fields", context =>
        {
            context.Response.Headers["X-Bad"] = value;
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        });

        Assert.Empty(await ExchangeAsync(listener));
    }

    [Fact]
    public async Task AnUnwritableFieldNameClosesTheConnectionToo()
    {
        await using var listener = TestRawListener.Start("fields", context =>
        {
            context.Response.Headers["X-\u0100"] = "1";
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        });

        Assert.Empty(await ExchangeAsync(listener));
    }

    /// <summary>One request with Connection: close; the whole answer, read until the listener closes.</summary>
    private static async Task<byte[]> ExchangeAsync(RawListener listener)
    {
        using var client = await TestRawListener.ConnectAsync(listener);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray());
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        while ((read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            answer.Write(buffer, 0, read);
        }

        return answer.ToArray();
    }
}
