using System.Runtime.CompilerServices;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// The few internal ARSoft.Tools.Net entry points we call. ARSoft's per-type RDATA wire codec is sound
/// and tested, but not public; rather than re-implement the wire form of ~80 record types we reach it
/// through <see cref="UnsafeAccessorAttribute"/>. The package version is pinned centrally and
/// RecordWireTests pin the behaviour, so an upgrade that changes these signatures fails loudly.
/// </summary>
internal static class ArsoftInternals
{
    /// <summary>Writes the 2-byte RDLENGTH followed by RDATA at <paramref name="offset"/>.</summary>
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "EncodeRecordBody")]
    internal static extern void EncodeRecordBody(DnsRecordBase record, IList<byte> buffer, ref int offset,
        Dictionary<DomainName, ushort>? compression, bool useCanonical);

    /// <summary>Builds a typed record from RDATA at <paramref name="offset"/> of <paramref name="data"/>.</summary>
    [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "ParseRecordFromBinary")]
    internal static extern DnsRecordBase ParseRecordFromBinary(DnsRecordBase? declaringType, int recordStartPosition,
        DomainName name, RecordType recordType, RecordClass recordClass, int timeToLive,
        IList<byte> data, int offset, int length);
}
