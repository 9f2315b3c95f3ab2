using Turnpike.LoadBalancing;
using Turnpike.Model;

namespace Turnpike.Health;

/// <summary>
/// The destinations a cluster may use right now and a load-balancing policy built for exactly that set, so
/// precomputing policies (weighted sequence, Maglev table) stay exact for it. Replaced as a whole when health changes.
/// </summary>
internal sealed class DestinationSelection(DestinationModel[] eligible, ILoadBalancingPolicy policy)
{
    public DestinationModel[] Eligible { get; } = eligible;

    public ILoadBalancingPolicy Policy { get; } = policy;
}
