using Microsoft.AspNetCore.Http;

namespace Turnpike.Http1.Server;

/// <summary>
/// The raw listener's request and response header dictionaries, rented when a request head starts to arrive and
/// returned (cleared) when the request has ended, through a <see cref="PerThreadStack{T}"/>: the next request on the
/// engine thread gets the dictionaries the last one just warmed. With a dictionary pair per connection instead, each
/// request at a thousand keep-alive connections cleared and filled cold ones. An idle connection holds none.
/// </summary>
internal static class HeaderDictionaryPool
{
    internal const int Capacity = PerThreadStack<HeaderDictionary>.Capacity;

    public static HeaderDictionary Rent() => PerThreadStack<HeaderDictionary>.Pop() ?? new HeaderDictionary();

    public static void Return(HeaderDictionary dictionary)
    {
        dictionary.Clear();
        PerThreadStack<HeaderDictionary>.Push(dictionary);
    }

    /// <summary>Dictionaries waiting on this thread (tests).</summary>
    internal static int CountOnThisThread => PerThreadStack<HeaderDictionary>.CountOnThisThread;
}
