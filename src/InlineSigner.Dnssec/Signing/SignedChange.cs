using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Signing;

/// <summary>
/// One new version of a signed zone and exactly how it differs from the one before: <see cref="Removed"/> and
/// <see cref="Added"/> are an IXFR delta as it goes on the wire (RFC 1995): the old SOA is the first record of
/// <see cref="Removed"/> and the new SOA the first of <see cref="Added"/>, everything else follows in canonical
/// order. <see cref="Diff"/> is the same change RRset by RRset, for storing the new version.
/// </summary>
/// <param name="Signed">The new signed zone.</param>
/// <param name="Removed">Records of the previous signed zone that the new one lacks (old SOA first).</param>
/// <param name="Added">Records of the new signed zone that the previous one lacks (new SOA first).</param>
/// <param name="SignaturesMade">Signatures made (and verified) for this version.</param>
/// <param name="RRsetsSigned">Distinct RRsets those signatures cover.</param>
public sealed record SignedChange(Zone Signed, IReadOnlyList<DnsRecordBase> Removed, IReadOnlyList<DnsRecordBase> Added,
    int SignaturesMade, int RRsetsSigned)
{
    /// <summary>The change RRset by RRset, in canonical order.</summary>
    public required ZoneDiff Diff { get; init; }

    /// <summary>Records of signer-owned types (<see cref="ZoneSigner.SignerOwnedTypes"/>) that the unsigned input carried and
    /// that were ignored: all of them for a full sign, those the unsigned change added for an incremental one.</summary>
    public int UpstreamRecordsIgnored { get; init; }

    /// <summary>Why the zone was signed again from scratch instead of incrementally (keys, denial parameters or
    /// denial TTL changed), or null.</summary>
    public string? FullResignReason { get; init; }

    /// <summary>True when the new version is the old one (nothing to publish).</summary>
    public bool IsEmpty => Removed.Count == 0 && Added.Count == 0;

    /// <summary>The SOA the delta deletes (the first record of <see cref="Removed"/>), or null.</summary>
    public SoaRecord? RemovedSoa => Removed.Count > 0 ? Removed[0] as SoaRecord : null;

    /// <summary>The SOA the delta adds (the first record of <see cref="Added"/>), or null.</summary>
    public SoaRecord? AddedSoa => Added.Count > 0 ? Added[0] as SoaRecord : null;
}
