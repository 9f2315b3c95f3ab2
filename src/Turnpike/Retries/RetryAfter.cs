using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace Turnpike.Retries;

/// <summary>Reads an upstream's <c>Retry-After</c> (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.</summary>
internal static class RetryAfter
{
    /// <summary>
    /// Parses <paramref name="value"/> into how long to wait from <paramref name="now"/>. A date in the past means no
    /// wait. False for anything that is neither form (the header is then ignored).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> value, DateTimeOffset now, out TimeSpan delay)
    {
        value = value.Trim();
        delay = TimeSpan.Zero;
        if (value.IsEmpty)
        {
            return false;
        }

        if (char.IsAsciiDigit(value[0]))
        {
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                // All digits but too long for a long: effectively forever.
                if (!value.ContainsAnyExceptInRange('0', '9'))
                {
                    delay = TimeSpan.MaxValue;
                    return true;
                }

                return false;
            }

            delay = seconds >= (long)TimeSpan.MaxValue.TotalSeconds ? TimeSpan.MaxValue : TimeSpan.FromSeconds(seconds);
            return true;
        }

        if (!HeaderUtilities.TryParseDate(value.ToString(), out var date))
        {
            return false;
        }

        delay = date > now ? date - now : TimeSpan.Zero;
        return true;
    }
}
