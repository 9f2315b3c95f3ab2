using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Turnpike.Pipeline;

/// <summary>
/// Rejects header values that the upstream HTTP client would refuse (control characters, bytes outside ASCII), so the
/// client gets a 400 at the edge instead of a 502 from a failed send.
/// </summary>
internal static class RequestHeaderValidator
{
    private static readonly System.Buffers.SearchValues<char> Allowed =
        System.Buffers.SearchValues.Create("\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    public static bool AreForwardable(IHeaderDictionary headers)
    {
        if (headers is HeaderDictionary dictionary)
        {
            // The raw listener's headers: the struct enumerator, nothing boxed per request.
            foreach (var header in dictionary)
            {
                if (!IsValid(header.Value))
                {
                    return false;
                }
            }

            return true;
        }

        foreach (var header in headers)
        {
            if (!IsValid(header.Value))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValid(StringValues values)
    {
        foreach (var value in values)
        {
            if (value is null)
            {
                continue;
            }

            // Visible ASCII, space and horizontal tab only (RFC 9110 field-value, without obs-text). Vectorized scan.
            if (value.AsSpan().ContainsAnyExcept(Allowed))
            {
                return false;
            }
        }

        return true;
    }
}
