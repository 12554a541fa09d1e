using System.Security.Cryptography;
using InlineSigner.Threshold.Frost;

namespace InlineSigner.Threshold.Tests;

/// <summary>
/// A FROST share holder's nonces kept between the rounds (what a cluster node relies on): round two gets exactly the
/// nonce it would have derived, numbers that can no longer be spent are dropped, and the cache stays bounded and is
/// zeroed with the holder.
/// </summary>
public sealed class FrostShareHolderNonceTests
{
    /// <summary>A holder as a node loads it from its store; these tests never sign, so any scalar serves as the share.</summary>
    private static FrostShareHolder Key(int nodeId = 1)
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(2, 3);
        foreach (var share in shares) share.Dispose();
        return new FrostShareHolder(publicKey, new FrostKeyShare(nodeId, Ed25519Group.RandomScalar()), RandomNumberGenerator.GetBytes(32), 0);
    }

    [Fact]
    public void Round_two_gets_the_nonce_round_one_committed_to_whether_kept_or_derived_again()
    {
        using var key = Key();
        ulong first = key.IssueNonces(4);
        var commitments = Enumerable.Range(0, 4).Select(i => key.Commit(first + (ulong)i)).ToList();
        Assert.Equal(4, key.KeptNonces);
        for (int i = 0; i < 4; i++)
        {
            using var derived = key.DeriveNonce(first + (ulong)i);
            Assert.Equal(derived.Commitment, commitments[i], CommitmentComparer.Instance);
        }
        Assert.Null(key.Reserve([first, first + 1]).Error);
        using (var kept = key.TakeNonce(first))
        using (var again = key.DeriveNonce(first))
            Assert.Equal(again.Commitment, kept.Commitment, CommitmentComparer.Instance);
        Assert.Equal(3, key.KeptNonces);
        // Not kept any more (taken): derived again, the same nonce.
        using (var kept = key.TakeNonce(first + 1)) Assert.Equal(commitments[1], kept.Commitment, CommitmentComparer.Instance);
        using (var derived = key.TakeNonce(first + 1)) Assert.Equal(commitments[1], derived.Commitment, CommitmentComparer.Instance);
    }

    [Fact]
    public void Skipped_forgotten_and_excess_nonces_are_not_kept_and_the_key_zeroes_the_rest()
    {
        var key = Key();
        ulong first = key.IssueNonces(10);
        for (int i = 0; i < 10; i++) key.Commit(first + (ulong)i);
        Assert.Null(key.Reserve([first + 4, first + 6]).Error); // 0..3 and 5 are skipped: never spendable
        Assert.Equal(10 - 5, key.KeptNonces);
        key.Forget([first + 4, first + 6]); // the batch failed before taking them
        Assert.Equal(3, key.KeptNonces);
        key.Commit(first + 2); // below what round two may spend: not kept
        Assert.Equal(3, key.KeptNonces);
        Assert.Null(key.Reserve([first + 1_000_000]).Error); // a wide gap drops everything below it
        Assert.Equal(0, key.KeptNonces);

        ulong more = key.IssueNonces(FrostShareHolder.MaxKeptNonces + 10);
        for (int i = 0; i < FrostShareHolder.MaxKeptNonces + 10; i++) key.Commit(more + (ulong)i);
        Assert.Equal(FrostShareHolder.MaxKeptNonces, key.KeptNonces);
        key.Dispose();
        Assert.Equal(0, key.KeptNonces);
    }

    private sealed class CommitmentComparer : IEqualityComparer<FrostCommitment>
    {
        public static readonly CommitmentComparer Instance = new();
        public bool Equals(FrostCommitment? x, FrostCommitment? y) =>
            x is not null && y is not null && x.Identifier == y.Identifier && x.Hiding.AsSpan().SequenceEqual(y.Hiding) && x.Binding.AsSpan().SequenceEqual(y.Binding);
        public int GetHashCode(FrostCommitment obj) => obj.Identifier;
    }
}
