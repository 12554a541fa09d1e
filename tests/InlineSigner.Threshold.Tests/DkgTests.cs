using InlineSigner.Threshold.Frost;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Threshold.Tests;

public sealed class DkgTests
{
    private static readonly byte[] Context = "example.com. ZSK 2026-11-24"u8.ToArray();

    private static List<PedersenDkgParticipant> Participants(int t, int n) =>
        Enumerable.Range(1, n).Select(i => new PedersenDkgParticipant(i, t, n, Context)).ToList();

    private static bool Ed25519Verify(byte[] publicKey, byte[] message, byte[] signature) => ThresholdTestKeys.Ed25519Verify(publicKey, message, signature);

    [Fact]
    public void Five_parties_threshold_three_make_a_key_that_signs_without_any_dealer()
    {
        var parties = Participants(3, 5);
        var round1 = parties.Select(p => p.Round1()).ToList();
        var outgoing = parties.ToDictionary(p => p.Identifier, p => p.Round2(round1));
        var results = parties.Select(p => p.Finish(outgoing.ToDictionary(kv => kv.Key, kv => kv.Value[p.Identifier]))).ToList();

        // Everyone agrees on the group key and the verification shares.
        Assert.All(results, r => Assert.Equal(results[0].PublicKey.GroupPublicKey, r.PublicKey.GroupPublicKey));
        var publicKey = results[0].PublicKey;

        // Any three sign; the aggregate is a plain Ed25519 signature.
        var message = "sub.example.com. DS signing input"u8.ToArray();
        foreach (var subset in new[] { new[] { 1, 2, 3 }, [2, 4, 5], [1, 3, 5] })
        {
            var signers = subset.Select(i => results[i - 1].Share).ToList();
            var nonces = signers.Select(FrostEd25519.Commit).ToList();
            var commitments = nonces.Select(x => x.Commitment).ToList();
            var zs = signers.Select((s, k) => (s.Identifier, Z: FrostEd25519.Sign(s, nonces[k], message, commitments, publicKey))).ToDictionary(x => x.Identifier, x => x.Z);
            Assert.True(Ed25519Verify(publicKey.GroupPublicKey, message, FrostEd25519.Aggregate(message, commitments, zs, publicKey)));
        }
    }

    [Fact]
    public void A_participant_sending_a_bad_share_is_caught_by_its_victim_and_judged_at_fault()
    {
        var parties = Participants(3, 5);
        var round1 = parties.Select(p => p.Round1()).ToList();
        var outgoing = parties.ToDictionary(p => p.Identifier, p => p.Round2(round1).ToDictionary(kv => kv.Key, kv => kv.Value));
        PedersenDkgParticipant.CorruptShareFor(outgoing[2], receiver: 4); // participant 2 cheats towards 4

        var victim = parties[3];
        var error = Assert.Throws<DkgException>(() => victim.Finish(outgoing.ToDictionary(kv => kv.Key, kv => kv.Value[4])));
        Assert.Equal([2], error.Cheaters);
        var complaint = Assert.Single(error.Complaints);
        Assert.Equal((4, 2), (complaint.Accuser, complaint.Accused));
        // Participant 2 must reveal the share publicly; what it sent does not match its commitments.
        Assert.True(PedersenDkgParticipant.AccusedIsAtFault(complaint, round1[1], outgoing[2][4]));
        // A false complaint against an honest sender is rejected when the correct share is revealed.
        var honestShare = parties[2].Round2(round1)[4];
        Assert.False(PedersenDkgParticipant.AccusedIsAtFault(complaint with { Accused = 3 }, round1[2], honestShare));
        // Others are unaffected by 2's cheating towards 4.
        parties[0].Finish(outgoing.ToDictionary(kv => kv.Key, kv => kv.Value[1]));
    }

    [Fact]
    public void A_participant_with_a_bad_proof_of_knowledge_is_disqualified()
    {
        var parties = Participants(3, 5);
        var round1 = parties.Select(p => p.Round1()).ToList();
        var mu = round1[4].ProofMu.ToArray();
        mu[0] ^= 1;
        round1[4] = round1[4] with { ProofMu = mu };
        var error = Assert.Throws<DkgException>(() => parties[0].Round2(round1));
        Assert.Equal([5], error.Cheaters);

        // A proof made for another session context does not verify here either (no replay across sessions).
        var other = new PedersenDkgParticipant(1, 3, 5, "another session"u8);
        Assert.False(PedersenDkgParticipant.VerifyProof(other.Round1(), Context, 3));
        Assert.True(PedersenDkgParticipant.VerifyProof(parties[1].Round1(), Context, 3));
    }
}
