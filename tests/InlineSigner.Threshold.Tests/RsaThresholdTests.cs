using System.Numerics;
using System.Security.Cryptography;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold;
using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Threshold.Tests;

/// <summary>Test keys dealt from pre-generated safe primes (Fixtures/), so no test waits for a safe-prime search.</summary>
internal static class RsaFixtures
{
    public static (ThresholdRsaPublicKey PublicKey, IReadOnlyList<RsaKeyShare> Shares) Deal(int primeBits, int t, int n) =>
        ThresholdTestKeys.DealRsa(primeBits, t, n);

    /// <summary>n in {3, 5, 7} and every t ≤ n, the grid both schemes are tested on.</summary>
    public static TheoryData<int, int> ThresholdsUpTo7()
    {
        var data = new TheoryData<int, int>();
        foreach (var n in new[] { 3, 5, 7 })
            for (int t = 1; t <= n; t++) data.Add(n, t);
        return data;
    }

    public static RsaSignatureShare[] SignAll(ThresholdRsaPublicKey key, IReadOnlyList<RsaKeyShare> shares, byte[] em, bool proofs)
    {
        return shares.Select(s =>
        {
            using var holder = new RsaShareHolder(key, s);
            return holder.Sign(em, proofs);
        }).ToArray();
    }

    public static bool VerifiesWithDotnet(ThresholdRsaPublicKey key, byte[] message, byte[] signature, HashAlgorithmName hash)
    {
        using var rsa = RSA.Create(key.ToRsaParameters());
        return rsa.VerifyData(message, signature, hash, RSASignaturePadding.Pkcs1);
    }
}

public sealed class RsaThresholdTests
{
    private static readonly byte[] Message = "example.com. signing input"u8.ToArray();

    [Theory]
    [MemberData(nameof(RsaFixtures.ThresholdsUpTo7), MemberType = typeof(RsaFixtures))]
    public void Any_t_honest_shares_sign_fewer_cannot_and_a_corrupted_share_is_caught(int n, int t)
    {
        var (key, shares) = RsaFixtures.Deal(512, t, n);
        var em = Pkcs1.Encode(Message, HashAlgorithmName.SHA256, key.ModulusBytes);
        var all = RsaFixtures.SignAll(key, shares, em, proofs: true);

        // Several subsets of size t: the first t, the last t, and a random one.
        var random = new Random(n * 31 + t);
        foreach (var subset in new[] { all.Take(t), all.Skip(n - t), all.OrderBy(_ => random.Next()).Take(t) })
        {
            var result = ThresholdRsaCombiner.Combine(key, em, subset.ToList());
            Assert.Empty(result.BadHolders);
            Assert.True(RsaFixtures.VerifiesWithDotnet(key, Message, result.Signature, HashAlgorithmName.SHA256));
        }

        // t−1 shares are not enough.
        if (t > 1) Assert.Throws<ThresholdSigningException>(() => ThresholdRsaCombiner.Combine(key, em, all.Take(t - 1).ToList()));

        // One flipped byte in the first share: combining fails, the proofs name the holder, the others still sign.
        var corrupted = all.Select(s => s).ToArray();
        var value = corrupted[0].Value.ToArray();
        value[^3] ^= 0x10;
        corrupted[0] = corrupted[0] with { Value = value };
        if (n >= t + 1)
        {
            var result = ThresholdRsaCombiner.Combine(key, em, corrupted);
            Assert.Equal([1], result.BadHolders);
            Assert.True(RsaFixtures.VerifiesWithDotnet(key, Message, result.Signature, HashAlgorithmName.SHA256));
        }
        else
        {
            var error = Assert.Throws<ThresholdSigningException>(() => ThresholdRsaCombiner.Combine(key, em, corrupted));
            Assert.Equal([1], error.BadHolders);
        }
        foreach (var share in shares) share.Dispose();
    }

    [Fact]
    public void Without_proofs_a_bad_share_is_reported_as_needing_proofs()
    {
        var (key, shares) = RsaFixtures.Deal(512, 2, 3);
        var em = Pkcs1.Encode(Message, HashAlgorithmName.SHA256, key.ModulusBytes);
        var all = RsaFixtures.SignAll(key, shares, em, proofs: false);
        all[0] = all[0] with { Value = all[1].Value };
        var error = Assert.Throws<ThresholdSigningException>(() => ThresholdRsaCombiner.Combine(key, em, all));
        Assert.Contains("ask for proofs", error.Message);
    }

    [Fact]
    public void A_proof_for_another_message_or_share_does_not_verify()
    {
        var (key, shares) = RsaFixtures.Deal(512, 3, 5);
        var em = Pkcs1.Encode(Message, HashAlgorithmName.SHA256, key.ModulusBytes);
        var other = Pkcs1.Encode("other"u8, HashAlgorithmName.SHA256, key.ModulusBytes);
        var share = RsaFixtures.SignAll(key, shares, em, proofs: true)[2];
        Assert.True(ThresholdRsaCombiner.VerifyShare(key, em, share));
        Assert.False(ThresholdRsaCombiner.VerifyShare(key, other, share));
        Assert.False(ThresholdRsaCombiner.VerifyShare(key, em, share with { Index = 2 }));
        var z = share.Proof!.Z.ToArray();
        z[^1] ^= 1;
        Assert.False(ThresholdRsaCombiner.VerifyShare(key, em, share with { Proof = share.Proof with { Z = z } }));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(10)]
    public void Sha256_and_sha512_signatures_verify_with_dotnet_rsa(int dnssecAlgorithm)
    {
        var hash = dnssecAlgorithm == 8 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA512;
        var (key, shares) = RsaFixtures.Deal(512, 3, 5);
        var em = Pkcs1.Encode(Message, hash, key.ModulusBytes);
        var result = ThresholdRsaCombiner.Combine(key, em, RsaFixtures.SignAll(key, shares.Skip(1).ToList(), em, proofs: false));
        Assert.True(RsaFixtures.VerifiesWithDotnet(key, Message, result.Signature, hash));
        // The DNSKEY form is RFC 3110: exponent length 3, exponent 65537, modulus.
        Assert.Equal([3, 1, 0, 1], key.DnsKeyPublicKey()[..4]);
        Assert.Equal(key.Modulus, key.DnsKeyPublicKey()[4..]);
    }

    [Fact]
    public void Fresh_key_generation_deals_a_working_key_and_can_be_cancelled()
    {
        var steps = new List<string>();
        var (key, shares) = ThresholdRsaDealer.Deal(512, 2, 3, new Progress<string>(steps.Add), CancellationToken.None);
        Assert.Equal(512, key.ModulusBits);
        var em = Pkcs1.Encode(Message, HashAlgorithmName.SHA256, key.ModulusBytes);
        var result = ThresholdRsaCombiner.Combine(key, em, RsaFixtures.SignAll(key, shares, em, proofs: false));
        Assert.True(RsaFixtures.VerifiesWithDotnet(key, Message, result.Signature, HashAlgorithmName.SHA256));

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => ThresholdRsaDealer.Deal(8192, 3, 5, null, cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"cancellation took {clock.Elapsed}");
    }

    [Fact]
    public void Shares_hide_their_secret_and_are_zeroed_on_dispose()
    {
        var (key, shares) = RsaFixtures.Deal(512, 2, 3);
        var share = shares[0];
        Assert.DoesNotContain(Convert.ToHexString(share.Encode()[4..12]), share.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("not shown", share.ToString());
        var copy = RsaKeyShare.Decode(share.Encode());
        Assert.True(copy.SecretEquals(share));
        share.Dispose();
        Assert.False(copy.SecretEquals(share));
        Assert.Equal(key.Encode(), ThresholdRsaPublicKey.Decode(key.Encode()).Encode());
    }

    [Fact]
    public void Decoders_take_random_and_truncated_bytes_with_a_typed_error_only()
    {
        var (key, shares) = RsaFixtures.Deal(512, 2, 3);
        var em = Pkcs1.Encode(Message, HashAlgorithmName.SHA256, key.ModulusBytes);
        var samples = new[] { key.Encode(), shares[0].Encode(), RsaFixtures.SignAll(key, shares, em, true)[0].Encode() };
        var decoders = new Func<byte[], object>[] { b => ThresholdRsaPublicKey.Decode(b), b => RsaKeyShare.Decode(b), b => RsaSignatureShare.Decode(b) };
        var random = new Random(5);
        for (int d = 0; d < decoders.Length; d++)
        {
            for (int cut = 0; cut < samples[d].Length; cut++)
                Assert.Throws<ThresholdFormatException>(() => decoders[d](samples[d][..cut]));
            for (int i = 0; i < 2000; i++)
            {
                var bytes = new byte[random.Next(0, 300)];
                random.NextBytes(bytes);
                if (bytes.Length > 1 && i % 2 == 0) { bytes[0] = samples[d][0]; bytes[1] = 1; }
                try { decoders[d](bytes); }
                catch (ThresholdFormatException) { }
            }
            // Mutated valid messages too.
            for (int i = 0; i < 500; i++)
            {
                var bytes = samples[d].ToArray();
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                try { decoders[d](bytes); }
                catch (ThresholdFormatException) { }
            }
        }
    }
}

public sealed class OpenSslBigNumTests
{
    [Fact]
    public void Modular_arithmetic_agrees_with_system_numerics()
    {
        var random = new Random(11);
        using var ctx = new BigNumContext();
        for (int i = 0; i < 50; i++)
        {
            var mBytes = new byte[64]; random.NextBytes(mBytes); mBytes[^1] |= 1; mBytes[0] |= 0x80;
            var aBytes = new byte[64]; random.NextBytes(aBytes);
            var pBytes = new byte[32]; random.NextBytes(pBytes);
            var m = new BigInteger(mBytes, true, true);
            var a = new BigInteger(aBytes, true, true) % m;
            var p = new BigInteger(pBytes, true, true);
            using var bm = BigNum.FromBigInteger(m);
            using var ba = BigNum.FromBigInteger(a);
            using var bp = BigNum.FromBigInteger(p);
            using var secret = BigNum.ModExpSecret(ba, bp, bm, ctx);
            using var pub = BigNum.ModExp(ba, bp, bm, ctx);
            Assert.Equal(BigInteger.ModPow(a, p, m), secret.ToBigInteger());
            Assert.Equal(BigInteger.ModPow(a, p, m), pub.ToBigInteger());
            using var product = BigNum.ModMul(ba, bp, bm, ctx);
            Assert.Equal(a * p % m, product.ToBigInteger());
            if (BigInteger.GreatestCommonDivisor(a, m).IsOne)
            {
                using var inverse = BigNum.ModInverse(ba, bm, ctx);
                Assert.Equal(BigInteger.One, inverse.ToBigInteger() * a % m);
            }
        }
    }

    [Fact]
    public void Safe_prime_generation_returns_safe_primes()
    {
        using var p = BigNum.GeneratePrime(128, safe: true, CancellationToken.None);
        var value = p.ToBigInteger();
        Assert.Equal(128, p.BitLength);
        Assert.True(IsProbablePrime(value) && IsProbablePrime((value - 1) / 2));
        Assert.Contains("128 bits", p.ToString());
    }

    private static bool IsProbablePrime(BigInteger n)
    {
        foreach (var a in new BigInteger[] { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 })
        {
            if (n == a) return true;
            BigInteger d = n - 1; int r = 0;
            while (d.IsEven) { d /= 2; r++; }
            var x = BigInteger.ModPow(a, d, n);
            if (x.IsOne || x == n - 1) continue;
            bool composite = true;
            for (int i = 1; i < r && composite; i++) { x = BigInteger.ModPow(x, 2, n); if (x == n - 1) composite = false; }
            if (composite) return false;
        }
        return true;
    }
}

public sealed class RsaDnssecSizeTests
{
    [Theory]
    [InlineData(1024, 3, 5)]
    [InlineData(2048, 2, 3)]
    public void Deployment_size_keys_sign_and_verify_with_dotnet(int primeBits, int t, int n)
    {
        var (key, shares) = RsaFixtures.Deal(primeBits, t, n);
        Assert.Equal(2 * primeBits, key.ModulusBits);
        var message = "x"u8.ToArray();
        var em = Pkcs1.Encode(message, HashAlgorithmName.SHA256, key.ModulusBytes);
        var result = ThresholdRsaCombiner.Combine(key, em, RsaFixtures.SignAll(key, shares.Reverse().Take(t).ToList(), em, proofs: true));
        Assert.True(RsaFixtures.VerifiesWithDotnet(key, message, result.Signature, HashAlgorithmName.SHA256));
    }
}

public sealed class RsaBatchCombineTests
{
    [Theory]
    [InlineData(3, 1)]
    [InlineData(3, 2)]
    [InlineData(5, 3)]
    [InlineData(7, 7)]
    public void A_batch_combines_each_message_from_its_own_share_set_and_marks_only_the_corrupted_ones(int n, int t)
    {
        var (key, shares) = RsaFixtures.Deal(512, t, n);
        var random = new Random(n * 7 + t);
        var messages = Enumerable.Range(0, 12).Select(i => System.Text.Encoding.ASCII.GetBytes($"batch message {i}")).ToList();
        var encoded = messages.Select(m => Pkcs1.Encode(m, HashAlgorithmName.SHA256, key.ModulusBytes)).ToList();
        // Each message signed by a different subset (different Lagrange coefficients), in shuffled order.
        var sets = encoded.Select(em => (IReadOnlyList<RsaSignatureShare>)RsaFixtures.SignAll(key, shares.OrderBy(_ => random.Next()).Take(t).ToList(), em, proofs: false)).ToList();
        var corrupted = new HashSet<int> { 3, 7 };
        foreach (var m in corrupted)
        {
            var list = sets[m].ToList();
            var value = list[0].Value.ToArray();
            value[^1] ^= 1;
            list[0] = list[0] with { Value = value };
            sets[m] = list;
        }
        sets[10] = sets[10].Take(t - 1).ToList(); // too few shares: no signature, no exception

        var signatures = ThresholdRsaCombiner.CombineOptimistic(key, encoded, sets);
        for (int m = 0; m < messages.Count; m++)
        {
            if (corrupted.Contains(m) || m == 10) Assert.Null(signatures[m]);
            else Assert.True(RsaFixtures.VerifiesWithDotnet(key, messages[m], signatures[m]!, HashAlgorithmName.SHA256), $"message {m}");
        }
    }

    [Fact]
    public void A_batch_agrees_with_one_by_one_combination()
    {
        var (key, shares) = RsaFixtures.Deal(512, 3, 5);
        var encoded = Enumerable.Range(0, 5).Select(i => Pkcs1.Encode([(byte)i], HashAlgorithmName.SHA512, key.ModulusBytes)).ToList();
        var sets = encoded.Select(em => (IReadOnlyList<RsaSignatureShare>)RsaFixtures.SignAll(key, shares.Skip(1).Take(3).ToList(), em, proofs: false)).ToList();
        var batch = ThresholdRsaCombiner.CombineOptimistic(key, encoded, sets);
        for (int m = 0; m < encoded.Count; m++) Assert.Equal(ThresholdRsaCombiner.Combine(key, encoded[m], sets[m]).Signature, batch[m]);
    }
}
