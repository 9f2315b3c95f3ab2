namespace Turnpike.Configuration;

public static partial class YamlConfigReader
{
    /// <summary><c>listeners.*.engine</c>: kestrel (default) or raw; raw serves cleartext HTTP/1.1 only.</summary>
    private static ListenerEngine? ReadEngine(YamlSection s, ListenerProtocols protocols, bool tls)
    {
        if (!s.Has("engine"))
        {
            return null;
        }

        var engine = s.Enum("engine", ListenerEngine.Kestrel);
        if (engine == ListenerEngine.Raw)
        {
            if (tls)
            {
                s.Error("engine", "the raw engine serves cleartext HTTP/1.1 only; remove tls or use engine: kestrel");
            }
            else if (protocols != ListenerProtocols.Http1)
            {
                s.Error("engine", "the raw engine serves HTTP/1.1 only; use protocols: http1 or engine: kestrel");
            }
        }

        return engine;
    }
}
