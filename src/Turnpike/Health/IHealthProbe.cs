using Turnpike.Model;

namespace Turnpike.Health;

/// <summary>Sends one active health probe to a destination. The HTTP implementation is <see cref="HttpHealthProbe"/>.</summary>
internal interface IHealthProbe
{
    /// <summary>True when the destination answered in time with an expected status.</summary>
    Task<bool> ProbeAsync(DestinationModel destination, CancellationToken cancellationToken);
}
