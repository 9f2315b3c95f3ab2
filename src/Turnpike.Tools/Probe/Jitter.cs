namespace Turnpike.Tools.Probe;

/// <summary>
/// Jitter of a latency series, in the sense of RFC 3550 §6.4.1: from the differences D between consecutive samples.
/// <see cref="MeanAbsoluteDifference"/> is what <c>turnpike probe</c> reports as <c>jitter</c> (plain mean of |D|);
/// <see cref="Smoothed"/> is RFC 3550's running estimate J(i) = J(i−1) + (|D(i−1,i)| − J(i−1)) / 16, reported as
/// <c>jitterRfc3550</c>. Lost samples are skipped: "consecutive" means consecutive among the answered attempts.
/// </summary>
public static class Jitter
{
    /// <summary>Mean of |x(i) − x(i−1)| over consecutive samples; 0 with fewer than two.</summary>
    public static double MeanAbsoluteDifference(IReadOnlyList<double> samples)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var sum = 0.0;
        for (var i = 1; i < samples.Count; i++)
        {
            sum += Math.Abs(samples[i] - samples[i - 1]);
        }

        return sum / (samples.Count - 1);
    }

    /// <summary>RFC 3550's smoothed jitter after the last sample (J starts at 0); 0 with fewer than two.</summary>
    public static double Smoothed(IReadOnlyList<double> samples)
    {
        var j = 0.0;
        for (var i = 1; i < samples.Count; i++)
        {
            j += (Math.Abs(samples[i] - samples[i - 1]) - j) / 16;
        }

        return j;
    }
}
