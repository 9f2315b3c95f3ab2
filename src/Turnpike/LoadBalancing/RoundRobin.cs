using Turnpike.Model;

namespace Turnpike.LoadBalancing;

/// <summary>The plain round-robin step, shared by the policies that fall back to it.</summary>
internal static class RoundRobin
{
    /// <summary>Advances <paramref name="counter"/> and returns the next destination, stepping past <paramref name="exclude"/> when another exists.</summary>
    public static DestinationModel? Next(ref uint counter, DestinationModel[] destinations, DestinationModel? exclude)
    {
        var count = destinations.Length;
        if (count == 0)
        {
            return null;
        }

        var start = (int)(Interlocked.Increment(ref counter) % (uint)count);
        var candidate = destinations[start];
        if (ReferenceEquals(candidate, exclude) && count > 1)
        {
            candidate = destinations[(start + 1) % count];
        }

        return candidate;
    }
}
