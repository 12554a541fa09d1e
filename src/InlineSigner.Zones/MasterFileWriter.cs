using System.Globalization;
using System.Text;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones.Text;

namespace InlineSigner.Zones;

/// <summary>
/// Writes zones in a canonical, readable master-file form: the SOA first, then every RRset in canonical order,
/// one record per line with absolute owner, explicit TTL, class and type. BIND's named-checkzone accepts it
/// unchanged and <see cref="MasterFileReader"/> reads it back to the same zone.
/// </summary>
public static class MasterFileWriter
{
    public static void Write(Zone zone, TextWriter writer)
    {
        writer.Write("; zone ");
        writer.Write(PresentationFormat.FormatName(zone.Origin));
        writer.Write('\n');
        if (zone.Find(zone.Origin, RecordType.Soa) is { } soa) WriteRRset(soa, writer);
        foreach (var set in zone.RRsets)
        {
            if (set.Type == RecordType.Soa && CanonicalNameComparer.Instance.Equals(set.Owner, zone.Origin)) continue;
            WriteRRset(set, writer);
        }
    }

    public static string WriteToString(Zone zone)
    {
        var sb = new StringWriter(CultureInfo.InvariantCulture);
        Write(zone, sb);
        return sb.ToString();
    }

    /// <summary>Writes to a temporary file beside <paramref name="path"/> and renames it, so a failure leaves no half file.</summary>
    public static void WriteFile(Zone zone, string path)
    {
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            using (var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16))
            {
                Write(zone, writer);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public static void WriteRRset(RRset set, TextWriter writer)
    {
        foreach (var record in set.Records) writer.Write(FormatRecord(record) + "\n");
    }

    /// <summary>One record as one master-file line (without the newline).</summary>
    public static string FormatRecord(DnsRecordBase record)
    {
        var rdata = PresentationFormat.FormatRData(record.RecordType, RecordWire.RData(record));
        return string.Create(CultureInfo.InvariantCulture,
            $"{PresentationFormat.FormatName(record.Name)}\t{record.TimeToLive}\t{PresentationFormat.FormatClass(record.RecordClass)}\t{PresentationFormat.FormatType(record.RecordType)}\t{rdata}");
    }
}
