using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>Each broken file in Corpus/ must fail with an error naming the file, the line and the problem.</summary>
public sealed class ErrorCorpusTests
{
    private static string CorpusDirectory => Path.Combine(RepositoryPaths.Root, "tests", "InlineSigner.Zones.Tests", "Corpus");

    public static TheoryData<string, int, string> Cases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var line in File.ReadAllLines(Path.Combine(CorpusDirectory, "expectations.txt")))
        {
            var parts = line.Split('|', 3);
            data.Add(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[2]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Broken_zone_is_rejected_with_file_line_and_reason(string file, int line, string fragment)
    {
        var path = Path.Combine(CorpusDirectory, file);
        var error = Assert.Throws<ZoneFileException>(() => ZoneChecks.LoadFile(path, DomainName.Parse("example.org")));
        Assert.Contains(fragment, error.Message);
        Assert.Equal(line, error.Line);
        Assert.EndsWith(Path.GetFileName(path) is var name && error.File.EndsWith(name, StringComparison.Ordinal) ? name : path, error.File);
        Assert.StartsWith(line > 0 ? $"{error.File}:{line}: " : $"{error.File}: ", error.Message);
    }

    [Fact]
    public void Corpus_covers_at_least_fifteen_distinct_errors()
    {
        Assert.True(Cases().Count() >= 15);
    }

    [Fact]
    public void Ttl_mismatch_inside_an_rrset_is_a_warning_with_the_rfc_2181_fix_up()
    {
        var file = MasterFileReader.ReadString("$TTL 300\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nh 60 A 192.0.2.1\nh 120 A 192.0.2.2\n",
            DomainName.Parse("example.org"), "ttl.zone");
        var warnings = new List<ZoneWarning>();
        var zone = ZoneChecks.Load(file, DomainName.Parse("example.org"), warnings);
        var warning = Assert.Single(warnings);
        Assert.Equal(5, warning.Line);
        Assert.Contains("RFC 2181", warning.Problem);
        Assert.All(zone.Find(DomainName.Parse("h.example.org"), ARSoft.Tools.Net.Dns.RecordType.A)!.Records, r => Assert.Equal(60, r.TimeToLive));
    }

    [Fact]
    public void Occluded_data_below_a_delegation_is_reported()
    {
        var file = MasterFileReader.ReadString("$TTL 300\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nsub NS ns.sub\nns.sub A 192.0.2.1\nwww.sub TXT \"hidden\"\n",
            DomainName.Parse("example.org"), "occluded.zone");
        var warnings = new List<ZoneWarning>();
        ZoneChecks.Load(file, DomainName.Parse("example.org"), warnings);
        var warning = Assert.Single(warnings);
        Assert.Contains("www.sub.example.org", warning.Problem);
        Assert.Equal(6, warning.Line);
    }
}
