using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Turnpike.Http1;
using Turnpike.Model;

namespace Turnpike.Pipeline;

/// <summary>
/// One <see cref="GatewayRequestFeature"/> per <see cref="HttpContext"/> object, reset for each request. Kestrel (per
/// HTTP/1.1 connection, per pooled HTTP/2 stream) and the raw listener (per connection) reuse their context for the
/// next request only after the last one finished, and never run two requests on one context at once, so a context's
/// feature is never shared by two requests in flight; readers after the request (the tracing wrapper) still see this
/// request's values, which are reset only when the next request on that context starts. A request on a new context
/// (a new connection) adds one entry — a lookup under <see cref="ConditionalWeakTable{TKey,TValue}"/>'s lock, the only
/// lock here — that dies with the context; every later request finds it with a lock-free read and allocates nothing.
/// A raw listener's connection (<see cref="IContextStateSlot"/>) keeps its feature in a field instead.
/// </summary>
internal sealed class RequestFeatureCache
{
    private readonly ConditionalWeakTable<HttpContext, GatewayRequestFeature> _features = new();

    public GatewayRequestFeature Rent(HttpContext context, RouteModel route)
    {
        if (context.Features is IContextStateSlot slot)
        {
            // The raw listener's connection keeps it in a field: no table lookup (and no cold table entry) per request.
            if (slot.ContextState is GatewayRequestFeature own)
            {
                own.Reset(route);
                return own;
            }

            var created = new GatewayRequestFeature { Route = route };
            slot.ContextState = created;
            return created;
        }

        if (_features.TryGetValue(context, out var feature))
        {
            feature.Reset(route);
            return feature;
        }

        feature = new GatewayRequestFeature { Route = route };
        _features.AddOrUpdate(context, feature);
        return feature;
    }
}
