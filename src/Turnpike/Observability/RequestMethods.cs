using Microsoft.AspNetCore.Http;

namespace Turnpike.Observability;

/// <summary>The <c>method</c> label: the standard methods as themselves, anything else as "OTHER" (bounded cardinality).</summary>
internal static class RequestMethods
{
    public static readonly string[] Names = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "OTHER"];

    public const int Count = 10;

    /// <summary>The index of <paramref name="method"/> in <see cref="Names"/>. Kestrel interns the standard methods,
    /// so the reference comparisons of <see cref="HttpMethods"/> usually answer.</summary>
    public static int IndexOf(string method)
    {
        if (HttpMethods.IsGet(method))
        {
            return 0;
        }

        if (HttpMethods.IsHead(method))
        {
            return 1;
        }

        if (HttpMethods.IsPost(method))
        {
            return 2;
        }

        if (HttpMethods.IsPut(method))
        {
            return 3;
        }

        if (HttpMethods.IsDelete(method))
        {
            return 4;
        }

        if (HttpMethods.IsOptions(method))
        {
            return 5;
        }

        if (HttpMethods.IsPatch(method))
        {
            return 6;
        }

        if (HttpMethods.IsTrace(method))
        {
            return 7;
        }

        return HttpMethods.IsConnect(method) ? 8 : 9;
    }
}
