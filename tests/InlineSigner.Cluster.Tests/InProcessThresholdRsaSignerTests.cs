using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster.Tests;

public sealed class InProcessThresholdRsaSignerTests
{
    private static (ThresholdRsaPublicKey, IReadOnlyList<RsaKeyShare>) Deal(int t, int n) => ThresholdTestKeys.DealRsa(512, t, n);

    [Fact]
    public async Task Batch_signatures_verify_under_the_published_dnskey()
    {
        var (key, shares) = Deal(2, 3);
        using var signer = new InProcessThresholdRsaSigner(DomainName.Parse("example.com"), DnsSecAlgorithm.RsaSha256, ksk: false, key, shares);
        Assert.Equal(256, (int)signer.DnsKey.Flags);
        var inputs = Enumerable.Range(0, 40).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i)).ToList();
        var signatures = await signer.SignAsync(inputs, CancellationToken.None);
        using var rsa = RSA.Create(key.ToRsaParameters());
        for (int i = 0; i < inputs.Count; i++)
            Assert.True(rsa.VerifyData(inputs[i].Span, signatures[i], HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        Assert.Equal(signer.DnsKey.CalculateKeyTag(), signer.KeyTag);
        Assert.Empty(signer.BadHolders);
    }

    [Fact]
    public void Fewer_than_t_shares_or_a_non_rsa_algorithm_is_refused()
    {
        var (key, shares) = Deal(3, 5);
        Assert.Throws<ArgumentException>(() => new InProcessThresholdRsaSigner(DomainName.Parse("example.com"), DnsSecAlgorithm.RsaSha256, false, key, shares.Take(2).ToList()));
        Assert.Throws<ArgumentException>(() => new InProcessThresholdRsaSigner(DomainName.Parse("example.com"), DnsSecAlgorithm.Ed25519, false, key, shares));
    }
}
