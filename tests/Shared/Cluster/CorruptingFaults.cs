using InlineSigner.Cluster.Node;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Tests.Shared;

/// <summary>A node that lies: flips a byte of every signature share it returns (to prove the client names it).</summary>
internal sealed class CorruptingFaults : INodeFaults
{
    public byte[] SignAnswer(KeyScheme scheme, byte[] answer) => scheme switch
    {
        // Well-formed shares with wrong values (a malformed answer would be caught by the decoder, not by the proofs).
        KeyScheme.ShoupRsa => new RsaSignAnswer(RsaSignAnswer.Decode(answer, int.MaxValue).Shares.Select(share =>
        {
            var value = share.Value.ToArray();
            value[^1] ^= 0x01;
            return share with { Value = value };
        }).ToList()).Encode(),
        KeyScheme.FrostEd25519 => new FrostSignAnswer(FrostSignAnswer.Decode(answer, int.MaxValue).Items.Select(item =>
        {
            var share = item.Share.ToArray();
            share[0] ^= 0x01;
            return (share, item.GroupCommitment);
        }).ToList()).Encode(),
        _ => answer,
    };
}
