namespace Turnpike.Hosting;

public sealed partial class TurnpikeServer
{
    /// <summary>
    /// Client connections open on the raw listeners now (Kestrel listeners not included). Read about once a second by
    /// the executable's <c>ConnectionDropCollector</c>; not for the request path.
    /// </summary>
    internal int OpenRawConnections
    {
        get
        {
            var open = 0;
            foreach (var raw in _rawListeners)
            {
                open += raw.ConnectionCount;
            }

            return open;
        }
    }
}
