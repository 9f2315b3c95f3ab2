using System.Net.Http;
using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.Health;

/// <summary>GET {destination}{path} through the cluster's own HTTP client, so probes see what requests see.</summary>
internal sealed class HttpHealthProbe(HttpMessageInvoker invoker, ActiveHealthCheckConfig options, Version version, HttpVersionPolicy versionPolicy) : IHealthProbe
{
    public async Task<bool> ProbeAsync(DestinationModel destination, CancellationToken cancellationToken)
    {
        var path = destination.Config.Health ?? options.Path;
        using var request = new HttpRequestMessage(HttpMethod.Get, ProbeUri(destination.Address, path))
        {
            Version = version,
            VersionPolicy = versionPolicy,
        };
        request.Headers.TryAddWithoutValidation("User-Agent", "turnpike-health-check");
        try
        {
            using var response = await invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            return status >= options.ExpectedStatusMin && status <= options.ExpectedStatusMax;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    internal static Uri ProbeUri(string address, string path) => new(address.TrimEnd('/') + path, UriKind.Absolute);
}
