using System.Globalization;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Tests;

/// <summary>A KSK and a ZSK with fixed Ed25519 seeds: Ed25519 signatures are deterministic, so two signings of the
/// same data at the same moment are byte-identical, and an incremental result can be compared with a full sign.</summary>
internal sealed class TestKeys : IDisposable
{
    public TestKeys(byte seed = 1)
    {
        Zsk = LocalKey.FromEd25519(Incremental.Origin, DnsKeyFlags.Zone, Enumerable.Repeat(seed, 32).ToArray());
        Ksk = LocalKey.FromEd25519(Incremental.Origin, DnsKeyFlags.Zone | DnsKeyFlags.SecureEntryPoint, Enumerable.Repeat((byte)(seed + 100), 32).ToArray());
        Keys = new ZoneKeys([Zsk, Ksk]);
    }

    public LocalKey Zsk { get; }
    public LocalKey Ksk { get; }
    public ZoneKeys Keys { get; }

    public void Dispose()
    {
        Zsk.Dispose();
        Ksk.Dispose();
    }
}

/// <summary>Zones, records and checks shared by the incremental signing tests.</summary>
internal static class Incremental
{
    public static readonly DomainName Origin = DomainName.Parse("example.com");

    /// <summary>Delegations with and without DS and glue, empty non-terminals, a wildcard, a CNAME, a mixed-case name.</summary>
    public const string BaseText = """
        @        SOA   ns1 hostmaster 1 7200 3600 1209600 300
        @        NS    ns1
        @        NS    ns2
        @        MX    10 mail
        ns1      A     192.0.2.1
        ns2      A     192.0.2.2
        mail     A     192.0.2.3
        www      A     192.0.2.4
        www      AAAA  2001:db8::4
        a.b.c    TXT   "below two empty non-terminals"
        *.wild   A     192.0.2.5
        sub      NS    ns.sub
        ns.sub   A     192.0.2.6
        secure   NS    ns.secure
        secure   DS    12345 15 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE7EC0E4E3A2B2B6A9BB22C1B5
        ns.secure A    192.0.2.7
        alias    CNAME www
        MiXeD    A     192.0.2.8
        x.d1     A     192.0.2.9
        h1       A     192.0.2.11
        h2       TXT   "two"
        h3       A     192.0.2.13
        h4       AAAA  2001:db8::14
        h5       A     192.0.2.15
        """;

    public static Zone BaseZone(string text = BaseText) => ZoneChecks.Load(MasterFileReader.ReadString("$TTL 3600\n" + text + "\n", Origin, "base"), Origin);

    public static IReadOnlyList<DnsRecordBase> Records(params string[] lines) =>
        MasterFileReader.ReadString("$TTL 3600\n" + string.Join('\n', lines) + "\n", Origin, "test").Records;

    public static RRset Set(params string[] lines) => RRset.Create(Records(lines));

    public static SigningPolicy Policy(string denial, bool zonemd) => new()
    {
        Nsec3 = denial switch
        {
            "nsec3" => new Nsec3Settings(),
            "nsec3-optout" => new Nsec3Settings(Iterations: 2, Salt: [0xAB, 0xCD], OptOut: true),
            _ => null,
        },
        ZoneMdAlgorithms = zonemd ? [ZoneMd.Sha384] : [],
    };

    /// <summary>The unsigned zone with the upstream SOA serial moved on by one, as a primary does on every change.</summary>
    public static Zone BumpSerial(Zone zone)
    {
        var soa = zone.Find(Origin, RecordType.Soa)!;
        var record = (SoaRecord)soa.Records[0];
        return zone.With(RRset.Create([new SoaRecord(Origin, soa.Ttl, record.MasterName, record.ResponsibleName, record.SerialNumber + 1,
            record.RefreshInterval, record.RetryInterval, record.ExpireInterval, record.NegativeCachingTTL)]));
    }

    /// <summary>A record's identity as IXFR sees it: owner (any case), type, class, TTL and canonical RDATA.</summary>
    public static string Key(DnsRecordBase record) => string.Create(CultureInfo.InvariantCulture,
        $"{record.Name.ToString().ToLowerInvariant()} {record.TimeToLive} {record.RecordClass} {record.RecordType} {Convert.ToHexString(RecordWire.CanonicalRData(record))}");

    /// <summary>
    /// The checks every incremental step must pass: the result is the full sign of the new unsigned zone byte for
    /// byte; the delta, applied record by record to the old signed zone, gives the new one; it deletes only records
    /// the old zone has and adds only records it lacks, SOAs first; and no signature was made that the delta does not
    /// carry (an RRset signed again although nothing about it changed would give the same, deterministic, signature).
    /// </summary>
    public static void AssertStep(Zone before, SignedChange change, SignedChange full, string context)
    {
        var expected = MasterFileWriter.WriteToString(full.Signed);
        var actual = MasterFileWriter.WriteToString(change.Signed);
        if (expected != actual)
        {
            var diff = ZoneDiff.Compute(full.Signed, change.Signed);
            Assert.Fail($"{context}: the incremental result differs from a full sign:\n" + string.Join('\n', diff.Changes.Take(12).Select(c =>
                $"  {c.Owner} {c.Type}: full [{string.Join(" | ", c.RemovedRecords.Select(MasterFileWriter.FormatRecord))}] incremental [{string.Join(" | ", c.AddedRecords.Select(MasterFileWriter.FormatRecord))}]")));
        }

        AssertDelta(before, change, context);
        if (change.FullResignReason is null)
            Assert.True(change.SignaturesMade == change.Added.Count(r => r.RecordType == RecordType.RrSig),
                $"{context}: {change.SignaturesMade} signatures made, but the delta adds {change.Added.Count(r => r.RecordType == RecordType.RrSig)}");
    }

    /// <summary>The delta applied record by record to <paramref name="before"/> gives the new zone; it deletes only records
    /// the old zone has and adds only records it lacks; the SOAs come first.</summary>
    public static void AssertDelta(Zone before, SignedChange change, string context)
    {
        var records = before.Records.GroupBy(Key).ToDictionary(g => g.Key, g => g.Count());
        foreach (var removed in change.Removed)
        {
            var key = Key(removed);
            Assert.True(records.TryGetValue(key, out int n) && n > 0, $"{context}: the delta deletes {MasterFileWriter.FormatRecord(removed)}, which the old zone lacks");
            if (n == 1) records.Remove(key); else records[key] = n - 1;
        }
        foreach (var added in change.Added)
        {
            var key = Key(added);
            Assert.False(records.ContainsKey(key), $"{context}: the delta adds {MasterFileWriter.FormatRecord(added)}, which the old zone has");
            records[key] = 1;
        }
        var after = change.Signed.Records.Select(Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(after, records.Keys.Order(StringComparer.Ordinal).ToList());

        if (!change.IsEmpty)
        {
            Assert.Equal(before.Serial, Assert.IsType<SoaRecord>(change.Removed[0]).SerialNumber);
            Assert.Equal(change.Signed.Serial, Assert.IsType<SoaRecord>(change.Added[0]).SerialNumber);
            Assert.Single(change.Removed, r => r.RecordType == RecordType.Soa);
            Assert.Single(change.Added, r => r.RecordType == RecordType.Soa);
        }
        // The RRset view says the same as the record view.
        Assert.Equal(change.Removed.Select(Key).Order(StringComparer.Ordinal), change.Diff.RemovedRecords.Select(Key).Order(StringComparer.Ordinal));
        Assert.Equal(change.Added.Select(Key).Order(StringComparer.Ordinal), change.Diff.AddedRecords.Select(Key).Order(StringComparer.Ordinal));
    }

    /// <summary>BIND's, ldns's and Knot's validators accept the zone.</summary>
    public static async Task AssertValidatorsAccept(Zone zone, bool zonemd, string context)
    {
        using var dir = new TempDirectory();
        var file = dir.File("zone.signed");
        MasterFileWriter.WriteFile(zone, file);
        var bind = await ExternalTool.RunAsync("dnssec-verify", "-o", "example.com", file);
        Assert.True(bind.ExitCode == 0, $"{context}: dnssec-verify: {bind.All}");
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", zonemd ? ["-Z", "-Z", file] : [file]);
        Assert.True(ldns.ExitCode == 0, $"{context}: ldns-verify-zone: {ldns.All}");
        var knot = await ExternalTool.RunAsync("kzonecheck", "-o", "example.com", "-d", "on", file);
        Assert.True(knot.ExitCode == 0, $"{context}: kzonecheck: {knot.All}");
    }
}
