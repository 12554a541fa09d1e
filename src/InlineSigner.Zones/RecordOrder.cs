using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones;

/// <summary>
/// Canonical order of records inside an RRset (RFC 4034 §6.3): by canonical RDATA as left-justified
/// unsigned octet strings, a missing octet sorting before a zero octet.
/// </summary>
public static class RecordOrder
{
    public static int CompareRData(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    /// <summary>Sorts records canonically and drops exact duplicates (same canonical RDATA, RFC 2181 §5).</summary>
    public static IReadOnlyList<(DnsRecordBase Record, byte[] CanonicalRData)> SortAndDeduplicate(IEnumerable<DnsRecordBase> records)
    {
        var list = records.Select(r => (Record: r, CanonicalRData: RecordWire.CanonicalRData(r))).ToList();
        list.Sort((x, y) => CompareRData(x.CanonicalRData, y.CanonicalRData));
        var result = new List<(DnsRecordBase, byte[])>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            if (i > 0 && list[i].CanonicalRData.AsSpan().SequenceEqual(list[i - 1].CanonicalRData)) continue;
            result.Add(list[i]);
        }
        return result;
    }
}
