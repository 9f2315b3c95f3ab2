using Turnpike.Configuration;
using Turnpike.Http1.Client;

namespace Turnpike.Tests.Http1.Client;

/// <summary>
/// <see cref="Http1UpstreamConnection.WriteAscii(ReadOnlySpan{char})"/>: the request head's text goes out byte for byte,
/// and a character that cannot be sent (non-ASCII, CR, LF, NUL) anywhere in it fails the write. Lengths on both sides of
/// the vector widths (16, 32, 64 characters), positions at the start, middle and end.
/// </summary>
public sealed class Http1UpstreamConnectionWriteTests
{
    private static Http1UpstreamConnection NewConnection()
    {
        var connection = TestPools.Create(new UpstreamHttpConfig(), TimeProvider.System).Pool.Create();
        connection.BeginWrite();
        return connection;
    }

    private static string Text(int length) =>
        string.Create(length, 0, static (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (char)(' ' + (i % 95)); // every printable ASCII character, and space
            }
        });

    public static TheoryData<int> Lengths => [0, 1, 15, 16, 17, 31, 33, 63, 64, 150, 5000];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void AsciiIsWrittenByteForByte(int length)
    {
        var connection = NewConnection();
        connection.Write("GET "u8);
        var text = Text(length) + "\t";
        Assert.True(connection.WriteAscii(text));
        Assert.Equal(4 + text.Length, connection.WrittenLength);
        Assert.Equal("GET " + text, System.Text.Encoding.ASCII.GetString(connection.Written));
    }

    public static TheoryData<int, int, char> Unsendable()
    {
        var data = new TheoryData<int, int, char>();
        foreach (var bad in new[] { '\r', '\n', '\0', '\u0080', '\u00E9', '\u20AC' })
        {
            foreach (var (length, at) in new[] { (1, 0), (16, 15), (40, 0), (40, 20), (40, 39), (150, 149), (150, 70) })
            {
                data.Add(length, at, bad);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Unsendable))]
    public void AnUnsendableCharacterAnywhereFailsTheWrite(int length, int at, char bad)
    {
        var connection = NewConnection();
        connection.Write("GET "u8);
        var chars = Text(length).ToCharArray();
        chars[at] = bad;
        Assert.False(connection.WriteAscii(chars));
        Assert.Equal(4, connection.WrittenLength); // nothing counted as written
    }
}
