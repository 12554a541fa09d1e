using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Dnssec.Keys;

/// <summary>A zone's signing keys and who signs what.</summary>
public sealed class ZoneKeys
{
    public ZoneKeys(IReadOnlyList<ISigner> keys)
    {
        if (keys.Count == 0) throw new ArgumentException("a zone needs at least one signing key");
        Keys = keys;
    }

    public IReadOnlyList<ISigner> Keys { get; }

    public static bool IsKsk(ISigner key) => key.DnsKey.Flags.HasFlag(DnsKeyFlags.SecureEntryPoint);

    /// <summary>
    /// The keys that sign an RRset of <paramref name="type"/> at the apex or elsewhere: KSKs sign the apex
    /// DNSKEY/CDS/CDNSKEY RRsets, ZSKs everything else; for an algorithm with only KSKs or only ZSKs, those keys sign
    /// everything (CSK mode). Every algorithm present signs every RRset (RFC 4035 §2.2).
    /// </summary>
    public IEnumerable<ISigner> SignersFor(RecordType type, bool atApex)
    {
        bool keySet = atApex && type is RecordType.DnsKey or RecordType.CDnsKey or RecordType.CDs;
        foreach (var group in Keys.GroupBy(k => k.Algorithm))
        {
            var ksks = group.Where(IsKsk).ToList();
            var zsks = group.Where(k => !IsKsk(k)).ToList();
            var chosen = keySet ? (ksks.Count > 0 ? ksks : zsks) : (zsks.Count > 0 ? zsks : ksks);
            foreach (var key in chosen) yield return key;
        }
    }
}

/// <summary>Finds a zone's BIND-format key files in a directory.</summary>
public static class KeyDirectory
{
    public static IReadOnlyList<LocalKey> Load(string directory, DomainName zone)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"key directory {directory} does not exist");
        var prefix = "K" + PresentationFormat.FormatName(zone) + "+";
        var keys = new List<LocalKey>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.private").Order(StringComparer.Ordinal))
        {
            if (!Path.GetFileName(file).StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
            var key = BindKeyFile.Read(file);
            if (!CanonicalNameComparer.Instance.Equals(key.Zone, zone))
            {
                key.Dispose();
                continue;
            }
            keys.Add(key);
        }
        if (keys.Count == 0) throw new FileNotFoundException($"no keys for zone {PresentationFormat.FormatName(zone)} in {directory} (expected {prefix}*.private)");
        return keys;
    }
}
