using InlineSigner.Threshold;
using InlineSigner.Threshold.Frost;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Threshold.Tests;

public sealed class FrostTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s);

    private static bool Ed25519Verify(byte[] publicKey, byte[] message, byte[] signature) => ThresholdTestKeys.Ed25519Verify(publicKey, message, signature);

    /// <summary>RFC 9591 Appendix E.1, FROST(Ed25519, SHA-512): every intermediate value and the final signature.</summary>
    [Fact]
    public void Rfc_9591_ed25519_test_vectors()
    {
        var secret = Hex("7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a790c6e13a98304");
        var (publicKey, shares, vss) = FrostEd25519.TrustedDealerKeygen(2, 3, secret, [Hex("178199860edd8c62f5212ee91eff1295d0d670ab4ed4506866bae57e7030b204")]);
        Assert.Equal("15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673", Convert.ToHexString(publicKey.GroupPublicKey).ToLowerInvariant());
        Assert.Equal(publicKey.GroupPublicKey, vss[0]);
        string[] expectedShares =
        [
            "929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509",
            "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685c07eed76bf409e80d",
            "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02",
        ];
        for (int i = 0; i < 3; i++) Assert.True(shares[i].Secret.SequenceEqual(Hex(expectedShares[i])), $"share {i + 1}");

        var message = Hex("74657374");
        var n1 = FrostEd25519.Commit(shares[0], Hex("0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d3cb583dfcb9bbaf8d4c9fec"), Hex("69cd85f631d5f7f2721ed5e40519b1366f340a87c2f6856363dbdcda348a7501"));
        var n3 = FrostEd25519.Commit(shares[2], Hex("86d64a260059e495d0fb4fcc17ea3da7452391baa494d4b00321098ed2a0062f"), Hex("13e6b25afb2eba51716a9a7d44130c0dbae0004a9ef8d7b5550c8a0e07c61775"));
        Assert.Equal("b5aa8ab305882a6fc69cbee9327e5a45e54c08af61ae77cb8207be3d2ce13de3", Convert.ToHexString(n1.Commitment.Hiding).ToLowerInvariant());
        Assert.Equal("67e98ab55aa310c3120418e5050c9cf76cf387cb20ac9e4b6fdb6f82a469f932", Convert.ToHexString(n1.Commitment.Binding).ToLowerInvariant());
        Assert.Equal("cfbdb165bd8aad6eb79deb8d287bcc0ab6658ae57fdcc98ed12c0669e90aec91", Convert.ToHexString(n3.Commitment.Hiding).ToLowerInvariant());
        Assert.Equal("7487bc41a6e712eea2f2af24681b58b1cf1da278ea11fe4e8b78398965f13552", Convert.ToHexString(n3.Commitment.Binding).ToLowerInvariant());

        var commitments = new[] { n1.Commitment, n3.Commitment };
        var factors = FrostEd25519.BindingFactors(publicKey.GroupPublicKey, [.. commitments], message);
        Assert.Equal("f2cb9d7dd9beff688da6fcc83fa89046b3479417f47f55600b106760eb3b5603", Convert.ToHexString(factors[1]).ToLowerInvariant());
        Assert.Equal("b087686bf35a13f3dc78e780a34b0fe8a77fef1b9938c563f5573d71d8d7890f", Convert.ToHexString(factors[3]).ToLowerInvariant());

        var z1 = FrostEd25519.Sign(shares[0], n1, message, commitments, publicKey);
        var z3 = FrostEd25519.Sign(shares[2], n3, message, commitments, publicKey);
        Assert.Equal("001719ab5a53ee1a12095cd088fd149702c0720ce5fd2f29dbecf24b7281b603", Convert.ToHexString(z1).ToLowerInvariant());
        Assert.Equal("bd86125de990acc5e1f13781d8e32c03a9bbd4c53539bbc106058bfd14326007", Convert.ToHexString(z3).ToLowerInvariant());

        var signature = FrostEd25519.Aggregate(message, commitments, new Dictionary<int, byte[]> { [1] = z1, [3] = z3 }, publicKey);
        Assert.Equal("36282629c383bb820a88b71cae937d41f2f2adfcc3d02e55507e2fb9e2dd3cbebd9d2b0844e49ae0f3fa935161e1419aab7b47d21a37ebeae1f17d4987b3160b",
            Convert.ToHexString(signature).ToLowerInvariant());
        Assert.True(Ed25519Verify(publicKey.GroupPublicKey, message, signature));
    }

    [Fact]
    public void Rfc_9591_nonce_generation_vectors()
    {
        var share = Hex("929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509");
        Assert.Equal("812d6104142944d5a55924de6d49940956206909f2acaeedecda2b726e630407",
            Convert.ToHexString(FrostEd25519.NonceGenerate(share, Hex("0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d3cb583dfcb9bbaf8d4c9fec"))).ToLowerInvariant());
        Assert.Equal("b1110165fc2334149750b28dd813a39244f315cff14d4e89e6142f262ed83301",
            Convert.ToHexString(FrostEd25519.NonceGenerate(share, Hex("69cd85f631d5f7f2721ed5e40519b1366f340a87c2f6856363dbdcda348a7501"))).ToLowerInvariant());
    }

    [Theory]
    [MemberData(nameof(RsaFixtures.ThresholdsUpTo7), MemberType = typeof(RsaFixtures))]
    public void Any_t_signers_sign_fewer_cannot_and_a_cheater_is_named(int n, int t)
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(t, n);
        var message = "www.example.com. A signing input"u8.ToArray();
        var random = new Random(n * 17 + t);
        var signers = shares.OrderBy(_ => random.Next()).Take(t).ToList();
        var nonces = signers.Select(FrostEd25519.Commit).ToList();
        var commitments = nonces.Select(x => x.Commitment).ToList();
        var zs = signers.Select((s, i) => (s.Identifier, Z: FrostEd25519.Sign(s, nonces[i], message, commitments, publicKey))).ToDictionary(x => x.Identifier, x => x.Z);
        var signature = FrostEd25519.Aggregate(message, commitments, zs, publicKey);
        Assert.True(Ed25519Verify(publicKey.GroupPublicKey, message, signature));

        // A flipped byte in one share is detected and its holder named.
        var cheater = signers[0].Identifier;
        var tampered = new Dictionary<int, byte[]>(zs) { [cheater] = zs[cheater].ToArray() };
        tampered[cheater][3] ^= 0x01;
        var error = Assert.Throws<ThresholdSigningException>(() => FrostEd25519.Aggregate(message, commitments, tampered, publicKey));
        Assert.Equal([cheater], error.BadHolders);

        // With another honest signer available, signing succeeds without the cheater (fresh nonces).
        if (n > t)
        {
            var honest = shares.Where(s => s.Identifier != cheater).Take(t).ToList();
            var honestNonces = honest.Select(FrostEd25519.Commit).ToList();
            var honestCommitments = honestNonces.Select(x => x.Commitment).ToList();
            var honestZ = honest.Select((s, i) => (s.Identifier, Z: FrostEd25519.Sign(s, honestNonces[i], message, honestCommitments, publicKey))).ToDictionary(x => x.Identifier, x => x.Z);
            Assert.True(Ed25519Verify(publicKey.GroupPublicKey, message, FrostEd25519.Aggregate(message, honestCommitments, honestZ, publicKey)));
        }

        // t−1 signers cannot produce a signature.
        if (t > 1)
        {
            var few = shares.Take(t - 1).ToList();
            var fewNonces = few.Select(FrostEd25519.Commit).ToList();
            var fewCommitments = fewNonces.Select(x => x.Commitment).ToList();
            var fewZ = few.Select((s, i) => (s.Identifier, Z: FrostEd25519.Sign(s, fewNonces[i], message, fewCommitments, publicKey))).ToDictionary(x => x.Identifier, x => x.Z);
            Assert.Throws<ThresholdSigningException>(() => FrostEd25519.Aggregate(message, fewCommitments, fewZ, publicKey));
            // Even summed without the checks, t−1 shares do not make a valid Ed25519 signature.
            var z = new byte[32];
            foreach (var share in fewZ.Values) z = Ed25519Group.Add(z, share);
            var forged = FrostEd25519.GroupCommitment(fewCommitments.OrderBy(c => c.Identifier).ToList(),
                FrostEd25519.BindingFactors(publicKey.GroupPublicKey, fewCommitments.OrderBy(c => c.Identifier).ToList(), message)).Concat(z).ToArray();
            Assert.False(Ed25519Verify(publicKey.GroupPublicKey, message, forged));
        }
    }

    [Fact]
    public void A_nonce_signs_once_only()
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(2, 3);
        var nonce = FrostEd25519.Commit(shares[0]);
        var other = FrostEd25519.Commit(shares[1]);
        var commitments = new[] { nonce.Commitment, other.Commitment };
        FrostEd25519.Sign(shares[0], nonce, "a"u8.ToArray(), commitments, publicKey);
        Assert.True(nonce.Used);
        Assert.Throws<InvalidOperationException>(() => FrostEd25519.Sign(shares[0], nonce, "b"u8.ToArray(), commitments, publicKey));
    }

    [Fact]
    public void Shares_do_not_show_their_secret()
    {
        var (_, shares, _) = FrostEd25519.TrustedDealerKeygen(2, 3);
        Assert.Contains("not shown", shares[0].ToString());
        Assert.DoesNotContain(Convert.ToHexString(shares[0].Secret)[..8], shares[0].ToString(), StringComparison.OrdinalIgnoreCase);
    }
}

public sealed class FrostOptimisticAggregationTests
{
    [Fact]
    public void Optimistic_aggregation_returns_a_verified_signature_and_still_names_a_cheater()
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(3, 5);
        var message = "m"u8.ToArray();
        var signers = shares.Skip(1).Take(3).ToList();
        var nonces = signers.Select(FrostEd25519.Commit).ToList();
        var commitments = nonces.Select(n => n.Commitment).ToList();
        var package = FrostEd25519.Prepare(message, commitments, publicKey);
        var zs = signers.Select((s, k) => (s.Identifier, Z: FrostEd25519.Sign(s, nonces[k], package))).ToDictionary(x => x.Identifier, x => x.Z);
        var signature = FrostEd25519.Aggregate(package, zs, publicKey, verifyEachShare: false);
        Assert.True(Ed25519Group.VerifySignature(signature, message, publicKey.GroupPublicKey));

        var tampered = new Dictionary<int, byte[]>(zs) { [4] = Ed25519Group.Add(zs[4], Ed25519Group.ScalarFromInt(1)) };
        var error = Assert.Throws<ThresholdSigningException>(() => FrostEd25519.Aggregate(package, tampered, publicKey, verifyEachShare: false));
        Assert.Equal([4], error.BadHolders);
    }
}

/// <summary>
/// DeserializeElement of RFC 9591 §6.5: a commitment must be a canonical point of the prime-order subgroup and not the
/// identity. Each kind of bad element, in either position, is refused with its sender named.
/// </summary>
public sealed class FrostCommitmentValidationTests
{
    // Order 8 (a generator of the torsion subgroup), order 2 (0, −1), a y with no x on the curve, and the identity.
    private static readonly byte[] Order8 = Convert.FromHexString("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05");
    private static readonly byte[] Order2 = Convert.FromHexString("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    private static readonly byte[] OffCurve = Convert.FromHexString("0200000000000000000000000000000000000000000000000000000000000000");

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var kind in new[] { "identity", "order 2", "order 8", "mixed order", "off curve", "non-canonical" })
            foreach (var binding in new[] { false, true }) data.Add(kind, binding);
        return data;
    }

    private static byte[] Bad(string kind, byte[] valid) => kind switch
    {
        "identity" => Ed25519Group.Identity.ToArray(),
        "order 2" => Order2,
        "order 8" => Order8,
        // A valid point plus a torsion point: on the curve, canonical, but outside the prime-order subgroup.
        "mixed order" => Ed25519Group.AddPoints(valid, Order8),
        "off curve" => OffCurve,
        // y = p + 1 encodes the same y as 1 non-canonically (the identity's y, which libsodium must refuse as encoded).
        "non-canonical" => Convert.FromHexString("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_invalid_commitment_is_refused_and_its_sender_named(string kind, bool binding)
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(3, 5);
        var commitments = shares.Take(3).Select(s => FrostEd25519.Commit(s).Commitment).ToList();
        var victim = commitments[1];
        Assert.True(Ed25519Group.IsValidElement(victim.Binding));
        commitments[1] = binding
            ? new FrostCommitment(victim.Identifier, victim.Hiding, Bad(kind, victim.Binding))
            : new FrostCommitment(victim.Identifier, Bad(kind, victim.Hiding), victim.Binding);
        Assert.False(Ed25519Group.IsValidElement(binding ? commitments[1].Binding : commitments[1].Hiding));

        // Checked by the coordinator (no own commitment), by another participant (skips only its own), and by the
        // victim itself, whose genuine commitment differs from the forged one sent under its identifier.
        foreach (var own in new FrostCommitment?[] { null, commitments[0], victim })
        {
            var error = Assert.Throws<ThresholdSigningException>(() => FrostEd25519.Prepare("m"u8.ToArray(), commitments, publicKey, own));
            Assert.Equal([victim.Identifier], error.BadHolders);
        }
    }
}

public sealed class FrostLagrangeTests
{
    /// <summary>The coefficients interpolate: Σ λ_i·f(x_i) = f(0) for a random polynomial of degree |set| − 1.</summary>
    [Theory]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 1, 3 })]
    [InlineData(new[] { 2, 4, 5 })]
    [InlineData(new[] { 1, 2, 3, 4, 5, 6, 7 })]
    [InlineData(new[] { 3, 17, 200, 255 })]
    public void Coefficients_interpolate_the_constant_term(int[] identifiers)
    {
        var coefficients = identifiers.Select(_ => Ed25519Group.RandomScalar()).ToList();
        byte[] F(int x)
        {
            var value = new byte[32];
            for (int k = coefficients.Count - 1; k >= 0; k--) value = Ed25519Group.Add(Ed25519Group.Mul(value, Ed25519Group.ScalarFromInt(x)), coefficients[k]);
            return value;
        }
        var lambda = FrostEd25519.LagrangeAll(identifiers);
        var sum = new byte[32];
        foreach (var i in identifiers) sum = Ed25519Group.Add(sum, Ed25519Group.Mul(lambda[i], F(i)));
        Assert.Equal(coefficients[0], sum);
    }
}
