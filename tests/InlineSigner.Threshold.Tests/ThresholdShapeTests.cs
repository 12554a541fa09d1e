using System.Security.Cryptography;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Threshold.Tests;

/// <summary>
/// Both schemes through the scheme-neutral shape alone (coordinator, holders, their encoded messages), driven the way
/// the cluster drives them: t honest holders give signatures that verify, a holder whose answer has a flipped byte is
/// named and never yields a bad signature, and fewer than t fail with a clear error.
/// </summary>
public sealed class ThresholdShapeTests
{
    private static List<ReadOnlyMemory<byte>> Inputs(int count, string tag = "input") =>
        Enumerable.Range(0, count).Select(i => (ReadOnlyMemory<byte>)System.Text.Encoding.ASCII.GetBytes($"{tag} {i}")).ToList();

    /// <summary>What a holder answers to <paramref name="request"/>, every item computed (as a node does on its workers).</summary>
    private static byte[] Answer(IHolderWork work)
    {
        for (int i = 0; i < work.Count; i++) work.Compute(i);
        return work.Answer();
    }

    // ---- a small driver: one round, in memory

    private sealed class Rig : IDisposable
    {
        public required IThresholdCoordinator Coordinator { get; init; }
        public required Dictionary<int, IShareHolder> Holders { get; init; }

        /// <summary>Each signer's preprocessed items for <paramref name="count"/> inputs (schemes with preprocessing).</summary>
        public Dictionary<int, IReadOnlyList<PreprocessedItem>> Preprocess(IEnumerable<int> signers, int count) =>
            signers.ToDictionary(s => s, s => Coordinator.ReadPreprocessAnswer(s, Answer(Holders[s].Preprocess(Coordinator.PreprocessRequest(count), 4096)), count));

        /// <summary>The round and each signer's decoded answer, with <paramref name="tamper"/> applied to encoded answers first.</summary>
        public (SigningRound Round, List<SigningAnswer> Answers) Round(ISigningBatch batch, IReadOnlyList<int> signers, bool withProofs = false,
            Func<int, byte[], byte[]>? tamper = null)
        {
            var items = Enumerable.Range(0, batch.Count).ToList();
            var round = Coordinator.HasPreprocessing
                ? new SigningRound(items, signers, Preprocess(signers, items.Count), withProofs)
                : new SigningRound(items, null, null, withProofs);
            var answers = signers.Select(s =>
            {
                var answer = Answer(Holders[s].Sign(batch.Request(round, s), 4096));
                return batch.ReadAnswer(round, s, tamper?.Invoke(s, answer) ?? answer);
            }).ToList();
            return (round, answers);
        }

        public void Dispose()
        {
            foreach (var holder in Holders.Values) holder.Dispose();
        }
    }

    private static Rig RsaRig(int t = 3, int n = 5, byte algorithm = 8)
    {
        var (publicKey, shares) = ThresholdTestKeys.DealRsa(512, t, n);
        var key = new ShoupRsaKey(publicKey, algorithm);
        var holders = shares.ToDictionary(s => s.Index, s => (IShareHolder)new ShoupRsaHolder(publicKey, s));
        foreach (var share in shares) share.Dispose();
        return new Rig { Coordinator = new ShoupRsaCoordinator(key), Holders = holders };
    }

    private static Rig FrostRig(int t = 3, int n = 5)
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(t, n);
        var holders = shares.ToDictionary(s => s.Identifier, s => (IShareHolder)new FrostShareHolder(publicKey, s, RandomNumberGenerator.GetBytes(32), 0));
        return new Rig { Coordinator = new FrostCoordinator(new FrostKey(publicKey)), Holders = holders };
    }

    /// <summary>Every signature present and valid, by the interface and by an independent verifier.</summary>
    private static void AssertAllVerify(IThresholdCoordinator coordinator, IReadOnlyList<ReadOnlyMemory<byte>> inputs, IReadOnlyList<byte[]?> signatures)
    {
        Assert.Equal(inputs.Count, signatures.Count);
        for (int i = 0; i < inputs.Count; i++)
        {
            var signature = signatures[i];
            Assert.NotNull(signature);
            Assert.True(coordinator.PublicKey.Verify(inputs[i].Span, signature), $"signature {i}");
            bool independent = coordinator switch
            {
                ShoupRsaCoordinator rsa => RsaFixtures.VerifiesWithDotnet(rsa.Key.Key, inputs[i].ToArray(), signature, rsa.Key.Hash),
                FrostCoordinator frost => ThresholdTestKeys.Ed25519Verify(frost.Key.Key.GroupPublicKey, inputs[i].ToArray(), signature),
                _ => false,
            };
            Assert.True(independent, $"signature {i} (independent check)");
        }
    }

    // ---- the public key

    [Fact]
    public void Public_keys_give_their_dnskey_form_algorithm_and_sizes_and_verify_only_real_signatures()
    {
        using var rsa = RsaRig(algorithm: 10);
        var rsaKey = (ShoupRsaKey)rsa.Coordinator.PublicKey;
        Assert.Equal(10, rsaKey.Algorithm);
        Assert.Equal((3, 5), (rsaKey.Threshold, rsaKey.Parties));
        Assert.Equal(rsaKey.Key.DnsKeyPublicKey(), rsaKey.DnsKeyPublicKey());
        Assert.Equal(new byte[] { 3, 1, 0, 1 }, rsaKey.DnsKeyPublicKey()[..4]); // RFC 3110: exponent length, then 65537
        Assert.Throws<ArgumentException>(() => new ShoupRsaKey(rsaKey.Key, 13));

        using var frost = FrostRig(2, 3);
        var frostKey = frost.Coordinator.PublicKey;
        Assert.Equal(15, frostKey.Algorithm);
        Assert.Equal((2, 3), (frostKey.Threshold, frostKey.Parties));
        Assert.Equal(32, frostKey.DnsKeyPublicKey().Length);

        foreach (var rig in new[] { rsa, frost })
        {
            var inputs = Inputs(2);
            var batch = rig.Coordinator.StartBatch(inputs);
            var (round, answers) = rig.Round(batch, rig.Holders.Keys.Order().Take(rig.Coordinator.PublicKey.Threshold).ToList());
            var signature = batch.Combine(round, answers, CancellationToken.None).Signatures[0]!;
            Assert.True(rig.Coordinator.PublicKey.Verify(inputs[0].Span, signature));
            Assert.False(rig.Coordinator.PublicKey.Verify(inputs[1].Span, signature));
            var flipped = signature.ToArray();
            flipped[^1] ^= 1;
            Assert.False(rig.Coordinator.PublicKey.Verify(inputs[0].Span, flipped));
            Assert.False(rig.Coordinator.PublicKey.Verify(inputs[0].Span, signature.AsSpan(1)));
        }
    }

    [Fact]
    public void Rounds_are_declared_per_scheme()
    {
        using var rsa = RsaRig();
        using var frost = FrostRig();
        Assert.False(rsa.Coordinator.HasPreprocessing);
        Assert.True(rsa.Coordinator.HasProofs);
        Assert.True(frost.Coordinator.HasPreprocessing);
        Assert.False(frost.Coordinator.HasProofs);
        Assert.Throws<NotSupportedException>(() => rsa.Coordinator.PreprocessRequest(4));
        Assert.Equal(RefusalReason.Invalid, Assert.Throws<ThresholdRefusalException>(() => rsa.Holders[1].Preprocess(new FrostCommitRequest(4).Encode(), 10)).Reason);
    }

    // ---- Shoup RSA

    [Fact]
    public void Rsa_any_t_honest_holders_give_verified_signatures()
    {
        using var rig = RsaRig();
        var inputs = Inputs(40);
        foreach (var signers in new[] { new[] { 1, 2, 3 }, [3, 4, 5], [5, 1, 4] })
        {
            var batch = rig.Coordinator.StartBatch(inputs);
            var (round, answers) = rig.Round(batch, signers);
            var outcome = batch.Combine(round, answers, CancellationToken.None);
            AssertAllVerify(rig.Coordinator, inputs, outcome.Signatures);
            Assert.Empty(outcome.Blamed);
        }
        // Every holder gets the same request: it does not depend on who answers.
        var one = rig.Coordinator.StartBatch(inputs);
        var plain = new SigningRound([0, 1], null, null, false);
        Assert.Equal(one.Request(plain, 1), one.Request(plain, 4));
    }

    [Fact]
    public void Rsa_holder_with_a_flipped_byte_is_not_trusted_optimistically_and_is_named_by_the_proof_round()
    {
        using var rig = RsaRig();
        var inputs = Inputs(10);
        var batch = rig.Coordinator.StartBatch(inputs);
        // Holder 2 flips a byte of every share value (well-formed: the decoder cannot tell).
        byte[] Lie(int holder, byte[] answer) => holder != 2 ? answer : new RsaSignAnswer(RsaSignAnswer.Decode(answer, 100).Shares
            .Select(s => s with { Value = s.Value.Select((b, i) => i == 7 ? (byte)(b ^ 0x10) : b).ToArray() }).ToList()).Encode();

        var (round, answers) = rig.Round(batch, [1, 2, 3], tamper: Lie);
        var optimistic = batch.Combine(round, answers, CancellationToken.None);
        Assert.All(optimistic.Signatures, Assert.Null); // never a bad signature; whose share was wrong takes proofs
        Assert.Empty(optimistic.Blamed);

        var (proven, withProofs) = rig.Round(batch, [1, 2, 3, 4, 5], withProofs: true, tamper: Lie);
        var outcome = batch.Combine(proven, withProofs, CancellationToken.None);
        AssertAllVerify(rig.Coordinator, inputs, outcome.Signatures);
        Assert.Equal([2], outcome.Blamed.Keys);
        Assert.Equal(new HolderBlame(inputs.Count, "bad signature share(s)"), outcome.Blamed[2]);
    }

    [Fact]
    public void Rsa_every_flipped_byte_of_an_answer_is_refused_by_the_reader_or_gives_no_signature()
    {
        using var rig = RsaRig();
        var inputs = Inputs(1);
        var batch = rig.Coordinator.StartBatch(inputs);
        var round = new SigningRound([0], null, null, false);
        var honest = Enumerable.Range(1, 3).Select(h => Answer(rig.Holders[h].Sign(batch.Request(round, h), 10))).ToList();
        for (int position = 0; position < honest[1].Length; position++)
        {
            var flipped = honest[1].ToArray();
            flipped[position] ^= 0x01;
            SigningAnswer read;
            try
            {
                read = batch.ReadAnswer(round, 2, flipped);
            }
            catch (ThresholdFormatException)
            {
                continue;
            }
            var answers = new[] { batch.ReadAnswer(round, 1, honest[0]), read, batch.ReadAnswer(round, 3, honest[2]) };
            var signature = batch.Combine(round, answers, CancellationToken.None).Signatures[0];
            Assert.True(signature is null || rig.Coordinator.PublicKey.Verify(inputs[0].Span, signature), $"byte {position}");
        }
        // An answer claiming another holder's index is refused.
        Assert.Throws<ThresholdFormatException>(() => batch.ReadAnswer(round, 3, honest[1]));
    }

    [Fact]
    public void Rsa_below_threshold_fails_clearly()
    {
        using var rig = RsaRig();
        var inputs = Inputs(3);
        var batch = rig.Coordinator.StartBatch(inputs);
        var (round, answers) = rig.Round(batch, [1, 2]);
        Assert.Contains("3 needed", Assert.Throws<ThresholdSigningException>(() => batch.Combine(round, answers, CancellationToken.None)).Message);
        var (proven, withProofs) = rig.Round(batch, [4, 5], withProofs: true);
        Assert.Throws<ThresholdSigningException>(() => batch.Combine(proven, withProofs, CancellationToken.None));
        // The same holder twice counts once.
        Assert.Throws<ThresholdSigningException>(() => batch.Combine(round, [answers[0], answers[1], answers[1]], CancellationToken.None));
    }

    [Fact]
    public void Rsa_holder_refuses_messages_of_the_wrong_length_and_checks_its_own_share()
    {
        using var rig = RsaRig();
        var refusal = Assert.Throws<ThresholdRefusalException>(() => rig.Holders[1].Sign(new RsaSignRequest(false, [new byte[10]]).Encode(), 10));
        Assert.Equal(RefusalReason.Invalid, refusal.Reason);
        Assert.Throws<ThresholdFormatException>(() => rig.Holders[1].Sign(new FrostCommitRequest(1).Encode(), 10));
        Assert.Throws<ThresholdFormatException>(() => rig.Holders[1].Sign(new RsaSignRequest(false, [new byte[10], new byte[10]]).Encode(), 1));
        Assert.True(rig.Holders.Values.All(h => h.SelfCheck()));
        Assert.Null(rig.Holders[1].Sign(new RsaSignRequest(false, []).Encode(), 10).SpendsBelow); // nothing single-use

        // A share of another key (same index) does not match this public key.
        var (_, otherShares) = ThresholdTestKeys.DealRsa(1024, 3, 5);
        using var mismatched = new ShoupRsaHolder(((ShoupRsaKey)rig.Coordinator.PublicKey).Key, otherShares[0]);
        Assert.False(mismatched.SelfCheck());
        foreach (var share in otherShares) share.Dispose();
    }

    // ---- FROST

    [Fact]
    public void Frost_t_honest_holders_give_verified_signatures()
    {
        using var rig = FrostRig();
        var inputs = Inputs(40);
        foreach (var signers in new[] { new[] { 1, 2, 3 }, [2, 4, 5], [1, 3, 5] })
        {
            var batch = rig.Coordinator.StartBatch(inputs);
            var (round, answers) = rig.Round(batch, signers);
            var outcome = batch.Combine(round, answers, CancellationToken.None);
            AssertAllVerify(rig.Coordinator, inputs, outcome.Signatures);
            Assert.Empty(outcome.Blamed);
        }
    }

    [Fact]
    public void Frost_holder_with_a_flipped_share_byte_is_named_and_one_with_a_wrong_r_is_named_while_its_signatures_stand()
    {
        using var rig = FrostRig();
        var inputs = Inputs(12);
        var batch = rig.Coordinator.StartBatch(inputs);
        byte[] FlipShare(int holder, byte[] answer) => holder != 4 ? answer : new FrostSignAnswer(FrostSignAnswer.Decode(answer, 100).Items
            .Select(i => (i.Share.Select((b, k) => k == 0 ? (byte)(b ^ 0x01) : b).ToArray(), i.GroupCommitment)).ToList()).Encode();
        var (round, answers) = rig.Round(batch, [2, 4, 5], tamper: FlipShare);
        var outcome = batch.Combine(round, answers, CancellationToken.None);
        Assert.All(outcome.Signatures, Assert.Null);
        Assert.Equal([4], outcome.Blamed.Keys);
        Assert.Equal(new HolderBlame(inputs.Count, "bad signature share(s)"), outcome.Blamed[4]);

        byte[] FlipR(int holder, byte[] answer) => holder != 1 ? answer : new FrostSignAnswer(FrostSignAnswer.Decode(answer, 100).Items
            .Select(i => (i.Share, i.GroupCommitment.Select((b, k) => k == 3 ? (byte)(b ^ 0x01) : b).ToArray())).ToList()).Encode();
        var (second, wrongR) = rig.Round(batch, [1, 2, 3], tamper: FlipR);
        var stands = batch.Combine(second, wrongR, CancellationToken.None);
        AssertAllVerify(rig.Coordinator, inputs, stands.Signatures);
        Assert.Equal([1], stands.Blamed.Keys);
        Assert.Equal("wrong FROST group commitment(s)", stands.Blamed[1].What);
    }

    [Fact]
    public void Frost_every_flipped_byte_of_an_answer_is_refused_by_the_reader_or_never_gives_a_bad_signature()
    {
        using var rig = FrostRig(2, 3);
        var inputs = Inputs(1);
        var batch = rig.Coordinator.StartBatch(inputs);
        byte[]? sent = null;
        var (round, answers) = rig.Round(batch, [1, 3], tamper: (holder, answer) => holder == 3 ? sent = answer : answer);
        Assert.NotNull(sent);
        for (int position = 0; position < sent.Length; position++)
        {
            var flipped = sent.ToArray();
            flipped[position] ^= 0x01;
            SigningAnswer read;
            try
            {
                read = batch.ReadAnswer(round, 3, flipped);
            }
            catch (ThresholdFormatException)
            {
                continue;
            }
            var outcome = batch.Combine(round, [answers[0], read], CancellationToken.None);
            var signature = outcome.Signatures[0];
            Assert.True(signature is null || rig.Coordinator.PublicKey.Verify(inputs[0].Span, signature), $"byte {position}");
            Assert.True(signature is not null || outcome.Blamed.ContainsKey(3), $"byte {position}: no signature and nobody blamed");
            Assert.False(outcome.Blamed.ContainsKey(1), $"byte {position}: the honest holder blamed");
        }
    }

    [Fact]
    public void Frost_below_threshold_fails_clearly()
    {
        using var rig = FrostRig();
        var inputs = Inputs(2);
        var batch = rig.Coordinator.StartBatch(inputs);
        // A round whose signer set is below t: the holders refuse it.
        var small = new SigningRound([0, 1], [1, 2], rig.Preprocess([1, 2], 2), false);
        var refusal = Assert.Throws<ThresholdRefusalException>(() => Answer(rig.Holders[1].Sign(batch.Request(small, 1), 10)));
        Assert.Equal(RefusalReason.Invalid, refusal.Reason);
        Assert.Contains("3 needed", refusal.Message);
        // A round of three in which one signer did not answer cannot be combined.
        var (round, answers) = rig.Round(batch, [1, 2, 3]);
        Assert.Contains("every signer", Assert.Throws<ThresholdSigningException>(() => batch.Combine(round, answers.Take(2).ToList(), CancellationToken.None)).Message);
    }

    [Fact]
    public void Frost_holder_spends_each_nonce_once_and_says_what_must_be_durable_first()
    {
        using var rig = FrostRig(2, 3);
        var batch = rig.Coordinator.StartBatch(Inputs(3));
        var round = new SigningRound([0, 1, 2], [1, 2], rig.Preprocess([1, 2], 3), false);
        var request = batch.Request(round, 1);
        var work = rig.Holders[1].Sign(request, 10);
        Assert.Equal(round.Preprocessed![1][2].Number + 1, work.SpendsBelow);
        var again = Assert.Throws<ThresholdRefusalException>(() => rig.Holders[1].Sign(request, 10));
        Assert.Equal(RefusalReason.Spent, again.Reason);
        Assert.Throws<ThresholdFormatException>(() => rig.Holders[1].Sign(request, 2)); // more items than allowed
        Assert.Null(rig.Holders[1].Preprocess(new FrostCommitRequest(2).Encode(), 10).SpendsBelow);
        Assert.Throws<ThresholdFormatException>(() => rig.Holders[1].Preprocess(new FrostCommitRequest(11).Encode(), 10));
    }

    [Fact]
    public void Frost_coordinator_names_a_holder_whose_commitments_are_not_group_elements()
    {
        using var rig = FrostRig();
        var items = rig.Preprocess([1, 2, 3], 4);
        Assert.Empty(rig.Coordinator.CheckPreprocessed(items));
        var identity = new byte[32];
        identity[0] = 1; // the identity: of small order, never a valid commitment
        items[2] = items[2].Cast<FrostPreprocessed>().Select((p, k) => k % 2 == 0 ? p with { Commitment = p.Commitment with { Hiding = identity } } : p).ToList();
        var blamed = rig.Coordinator.CheckPreprocessed(items);
        Assert.Equal([2], blamed.Keys);
        Assert.Equal(new HolderBlame(2, "invalid FROST commitment(s)"), blamed[2]);
        // Such a round is refused by the honest holders.
        var batch = rig.Coordinator.StartBatch(Inputs(4));
        var round = new SigningRound([0, 1, 2, 3], [1, 2, 3], items, false);
        Assert.Throws<ThresholdRefusalException>(() => Answer(rig.Holders[1].Sign(batch.Request(round, 1), 10)));
        // A preprocessing answer of the wrong size is refused when read.
        var four = Answer(rig.Holders[1].Preprocess(rig.Coordinator.PreprocessRequest(4), 10));
        Assert.Throws<ThresholdFormatException>(() => rig.Coordinator.ReadPreprocessAnswer(1, four, 5));
        Assert.True(rig.Holders.Values.All(h => h.SelfCheck()));
    }
}
