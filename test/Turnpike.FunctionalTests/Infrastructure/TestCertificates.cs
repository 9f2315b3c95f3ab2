using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Turnpike.FunctionalTests.Infrastructure;

/// <summary>
/// A self-signed ECDSA P-256 certificate for 127.0.0.1 and localhost, made once per test run, as the PEM pair a
/// listener's <c>tls: { certificate, key }</c> points at.
/// </summary>
public static class TestCertificates
{
    private static readonly Lazy<(string Certificate, string Key)> Localhost = new(Create);

    /// <summary>The certificate (CERTIFICATE PEM) and its private key (PKCS#8 PRIVATE KEY PEM).</summary>
    public static (string Certificate, string Key) LocalhostPem => Localhost.Value;

    /// <summary>The files to pass to <see cref="GatewayHost.StartAsync"/>: cert.pem and key.pem.</summary>
    public static (string Name, string Content)[] LocalhostFiles =>
        [("cert.pem", LocalhostPem.Certificate), ("key.pem", LocalhostPem.Key)];

    private static (string, string) Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(7));
        return (new string(PemEncoding.Write("CERTIFICATE", certificate.RawData)), key.ExportPkcs8PrivateKeyPem());
    }
}
