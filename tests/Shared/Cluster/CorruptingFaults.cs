using InlineSigner.Cluster.Node;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Tests.Shared;

/// <summary>A node that lies: flips a byte of every signature share it returns (to prove the client names it).</summary>
internal sealed class CorruptingFaults : INodeFaults
{
    public byte[] RsaShare(byte[] encodedShare)
    {
        // A well-formed share with a wrong value (a malformed one would be caught by the decoder, not by the proofs).
        var share = RsaSignatureShare.Decode(encodedShare);
        var value = share.Value.ToArray();
        value[^1] ^= 0x01;
        return (share with { Value = value }).Encode();
    }

    public byte[] FrostShare(byte[] share)
    {
        var copy = share.ToArray();
        copy[0] ^= 0x01;
        return copy;
    }
}
