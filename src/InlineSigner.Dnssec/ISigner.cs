using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Dnssec;

/// <summary>
/// One DNSSEC signing key as the signing engine sees it: its public DNSKEY and a way to turn a batch of
/// RRSIG signing inputs (RFC 4034 §3.1.8.1: RRSIG RDATA without the signature, followed by the RRset in
/// canonical form) into signatures in DNSSEC wire format. A local software key, the threshold cluster and a
/// test double all implement it; the engine never knows which it has. Implementations hash the input
/// themselves (the algorithm fixes the hash) and must return signatures that verify under <see cref="DnsKey"/>.
/// </summary>
public interface ISigner
{
    /// <summary>The public key as published at the zone apex (flags 256 for a ZSK, 257 for a KSK).</summary>
    DnsKeyRecord DnsKey { get; }

    DnsSecAlgorithm Algorithm { get; }

    /// <summary>RFC 4034 Appendix B key tag of <see cref="DnsKey"/>.</summary>
    ushort KeyTag { get; }

    /// <summary>
    /// Signs every input of the batch; the result has one signature per input, in the same order.
    /// Throws (never returns partial results) when the batch cannot be signed in full.
    /// </summary>
    Task<IReadOnlyList<byte[]>> SignAsync(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs, CancellationToken cancellationToken);
}
