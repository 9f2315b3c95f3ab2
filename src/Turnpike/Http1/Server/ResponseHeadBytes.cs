using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace Turnpike.Http1.Server;

/// <summary>
/// Precomputed bytes of response heads: "HTTP/1.1 NNN Reason\r\n" for every status 100–599 (built once), and the
/// "Date: …\r\n" line, rebuilt at most once per second by the listener's heartbeat.
/// </summary>
internal static class ResponseHeadBytes
{
    private static readonly byte[][] StatusLines = BuildStatusLines();
    private static byte[] _dateLine = BuildDateLine(DateTimeOffset.UtcNow);
    private static long _dateSecond;

    public static ReadOnlySpan<byte> Continue => "HTTP/1.1 100 Continue\r\n\r\n"u8;

    public static byte[] DateLine => Volatile.Read(ref _dateLine);

    /// <summary>The status line of <paramref name="status"/> with its standard reason phrase (null for a status outside 100–599).</summary>
    public static byte[]? StatusLine(int status) => status is >= 100 and <= 599 ? StatusLines[status - 100] : null;

    /// <summary>Called by each listener's heartbeat; cheap when the second has not changed.</summary>
    public static void UpdateDate(DateTimeOffset now)
    {
        long second = now.ToUnixTimeSeconds();
        if (Interlocked.Exchange(ref _dateSecond, second) != second)
        {
            Volatile.Write(ref _dateLine, BuildDateLine(now));
        }
    }

    private static byte[] BuildDateLine(DateTimeOffset now) => Encoding.ASCII.GetBytes("Date: " + now.UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture) + "\r\n");

    private static byte[][] BuildStatusLines()
    {
        var lines = new byte[500][];
        for (int status = 100; status <= 599; status++)
        {
            var reason = ReasonPhrases.GetReasonPhrase(status);
            lines[status - 100] = Encoding.ASCII.GetBytes(reason.Length == 0 ? $"HTTP/1.1 {status} \r\n" : $"HTTP/1.1 {status} {reason}\r\n");
        }

        return lines;
    }
}
