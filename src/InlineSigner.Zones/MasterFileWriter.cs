using System.Globalization;
using System.Text;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones.Text;

namespace InlineSigner.Zones;

/// <summary>
/// Writes zones in a canonical, readable master-file form: the SOA first, then every RRset in canonical order
/// (RFC 4034 §6.1 names, then type numbers, records in canonical RDATA order), one record per line with absolute
/// owner, explicit TTL, class and type, RDATA printed by our own printers (BIND's spelling: NSEC3 hashes in base32hex,
/// NSEC next names with their case, RRSIG times as YYYYMMDDHHmmSS, RFC 3597 form for types we have no layout for).
/// BIND's named-checkzone accepts it unchanged and <see cref="MasterFileReader"/> reads it back to the same zone.
/// </summary>
public static class MasterFileWriter
{
    public static void Write(Zone zone, TextWriter writer)
    {
        var line = new StringBuilder(256);
        writer.Write(Header(zone));
        foreach (var set in Ordered(zone))
        {
            foreach (var record in set.Records)
            {
                line.Clear();
                AppendRecord(line, record).Append('\n');
                writer.Write(line);
            }
        }
    }

    /// <summary>As <see cref="Write"/>, for I/O paths that must not block a thread.</summary>
    public static async Task WriteAsync(Zone zone, TextWriter writer, CancellationToken cancellationToken = default)
    {
        var chunk = new StringBuilder(1 << 16);
        chunk.Append(Header(zone));
        foreach (var set in Ordered(zone))
        {
            foreach (var record in set.Records) AppendRecord(chunk, record).Append('\n');
            if (chunk.Length >= 1 << 16)
            {
                await writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                chunk.Clear();
            }
        }
        await writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
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
        var (full, temp) = TempPath(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var writer = new StreamWriter(stream, Latin1Octets, 1 << 16))
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

    /// <summary>As <see cref="WriteFile"/>, asynchronously.</summary>
    public static async Task WriteFileAsync(Zone zone, string path, CancellationToken cancellationToken = default)
    {
        var (full, temp) = TempPath(path);
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                var writer = new StreamWriter(stream, Latin1Octets, 1 << 16);
                await using (writer.ConfigureAwait(false))
                {
                    await WriteAsync(zone, writer, cancellationToken).ConfigureAwait(false);
                    stream.Flush(flushToDisk: true);
                }
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Our output is pure ASCII (every other octet is written as \DDD); ISO-8859-1 is its exact byte form.</summary>
    private static readonly Encoding Latin1Octets = Encoding.Latin1;

    private static (string Full, string Temp) TempPath(string path)
    {
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        return (full, temp);
    }

    private static string Header(Zone zone)
    {
        var serial = zone.Soa is { } soa ? $", serial {soa.SerialNumber.ToString(CultureInfo.InvariantCulture)}" : "";
        return $"; zone {PresentationFormat.FormatName(zone.Origin)}{serial}\n; every name is absolute; $ORIGIN is not needed\n";
    }

    /// <summary>The apex SOA first (named-checkzone and humans expect it there), then everything in canonical order.</summary>
    private static IEnumerable<RRset> Ordered(Zone zone)
    {
        var soa = zone.Find(zone.Origin, RecordType.Soa);
        if (soa is not null) yield return soa;
        foreach (var set in zone.RRsets)
            if (!ReferenceEquals(set, soa)) yield return set;
    }

    public static void WriteRRset(RRset set, TextWriter writer)
    {
        var line = new StringBuilder(256);
        foreach (var record in set.Records)
        {
            line.Clear();
            writer.Write(AppendRecord(line, record).Append('\n'));
        }
    }

    /// <summary>One record as one master-file line (without the newline).</summary>
    public static string FormatRecord(DnsRecordBase record) => AppendRecord(new StringBuilder(128), record).ToString();

    private static StringBuilder AppendRecord(StringBuilder sb, DnsRecordBase record)
    {
        PresentationFormat.AppendName(sb, record.Name);
        sb.Append('\t').Append(record.TimeToLive.ToString(CultureInfo.InvariantCulture))
            .Append('\t').Append(PresentationFormat.FormatClass(record.RecordClass))
            .Append('\t').Append(PresentationFormat.FormatType(record.RecordType))
            .Append('\t');
        PresentationFormat.AppendRData(sb, record.RecordType, RecordWire.RData(record));
        return sb;
    }
}
