using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Turnpike.Forwarding;

internal static class YarpServiceCollectionExtensions
{
    /// <summary>
    /// Registers YARP's forwarder and its built-in transform factories (path, query, headers, X-Forwarded, method)
    /// without the rest of YARP's pipeline. <c>AddHttpForwarder()</c> alone registers a transform builder with no
    /// factories, and the factories are internal, so they are taken from what <c>AddReverseProxy()</c> registers.
    /// </summary>
    public static IServiceCollection AddTurnpikeForwarding(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddRoutingCore(); // TemplateBinderFactory, used by the PathPattern transform
        var scratch = new ServiceCollection();
        scratch.AddReverseProxy();
        foreach (var descriptor in scratch)
        {
            if (descriptor.ServiceType == typeof(ITransformFactory))
            {
                services.TryAddEnumerable(descriptor);
            }
            else if (descriptor.ServiceType.FullName == "Yarp.ReverseProxy.Utilities.IRandomFactory")
            {
                services.TryAdd(descriptor);
            }
        }

        return services;
    }
}
