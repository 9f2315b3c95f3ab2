using System.Diagnostics;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>Open-loop load at a fixed rate (requests are sent on schedule, not after the previous answer), bounded in count and time.</summary>
public static class LoadGenerator
{
    public sealed record Result(int Ok, int Limited, int Other, TimeSpan SendDuration)
    {
        public int Total => Ok + Limited + Other;
    }

    /// <summary>Sends <paramref name="perSecond"/> × <paramref name="duration"/> GETs, request i to target i mod n.</summary>
    public static async Task<Result> RunAsync((HttpClient Client, Uri Url)[] targets, int perSecond, TimeSpan duration, Action<HttpRequestMessage, int>? configure = null)
    {
        var total = (int)(perSecond * duration.TotalSeconds);
        var tasks = new Task<int>[total];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            var wait = TimeSpan.FromSeconds((double)i / perSecond) - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }

            var (client, url) = targets[i % targets.Length];
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            configure?.Invoke(request, i);
            tasks[i] = SendAsync(client, request);
        }

        var sendDuration = clock.Elapsed;
        var statuses = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        return new Result(statuses.Count(s => s == 200), statuses.Count(s => s == 429), statuses.Count(s => s is not 200 and not 429), sendDuration);
    }

    private static async Task<int> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        try
        {
            using (request)
            using (var response = await client.SendAsync(request))
            {
                return (int)response.StatusCode;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return -1;
        }
    }
}
