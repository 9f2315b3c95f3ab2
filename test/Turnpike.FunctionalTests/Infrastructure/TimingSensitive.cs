namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// Tests that measure rates or durations (shaping, rate limits, load-driven health and concurrency) or that put
/// heavy load on the machine. They run one at a time, after the parallel ones, so that on a 2-core CI machine
/// neither kind disturbs the other.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive
{
    public const string Name = "timing-sensitive";
}
