using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

public sealed class WriterAndDiffTests
{
    [Theory]
    [InlineData("example.com", "example.com")]
    [InlineData("example.org", "example.org")]
    public async Task Named_checkzone_accepts_what_we_write(string file, string origin)
    {
        using var dir = new TempDirectory();
        var zone = ZoneChecks.LoadFile(RepositoryPaths.Zone(file), DomainName.Parse(origin));
        var written = dir.File("written.zone");
        MasterFileWriter.WriteFile(zone, written);
        var result = await ExternalTool.RunAsync("named-checkzone", "-k", "fail", "-i", "local", origin, written);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("OK", result.Output);
    }

    [Fact]
    public void Write_file_leaves_nothing_behind_when_it_fails()
    {
        using var dir = new TempDirectory();
        var zone = ZoneChecks.LoadFile(RepositoryPaths.Zone("example.com"), DomainName.Parse("example.com"));
        var target = Path.Combine(dir.Path, "missing-subdir", "out.zone");
        Assert.ThrowsAny<IOException>(() => MasterFileWriter.WriteFile(zone, target));
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Random_edits_diff_and_apply_back_to_the_newer_zone()
    {
        var origin = DomainName.Parse("example.net");
        var random = new Random(42);
        var records = new List<DnsRecordBase>
        {
            new SoaRecord(origin, 300, DomainName.Parse("ns.example.net"), DomainName.Parse("admin.example.net"), 1, 2, 3, 4, 5),
            new NsRecord(origin, 300, DomainName.Parse("ns.example.net")),
        };
        for (int i = 0; i < 2000; i++)
            records.Add(new ARecord(DomainName.Parse($"h{i}.example.net"), 300, new IPAddress([192, 0, 2, (byte)(i % 250)])));
        var older = Zone.FromRecords(origin, records);
        for (int round = 0; round < 20; round++)
        {
            var newer = older;
            for (int edit = 0; edit < 30; edit++)
            {
                var name = DomainName.Parse($"h{random.Next(2500)}.example.net");
                switch (random.Next(3))
                {
                    case 0: newer = newer.Without(name, RecordType.A); break;
                    case 1: newer = newer.With(RRset.Create([new ARecord(name, 300 + random.Next(2), new IPAddress([198, 51, 100, (byte)random.Next(250)]))])); break;
                    default: newer = newer.With(RRset.Create([new TxtRecord(name, 60, $"t{random.Next()}")])); break;
                }
            }
            var diff = ZoneDiff.Compute(older, newer);
            var applied = older.Apply(diff);
            Assert.True(ZoneDiff.Compute(applied, newer).IsEmpty, $"round {round}: applying the diff does not give the newer zone");
            Assert.Equal(newer.Records.Count(), older.Records.Count() - diff.RemovedRecords.Count() + diff.AddedRecords.Count());
            older = newer;
        }
        Assert.True(ZoneDiff.Compute(older, older).IsEmpty);
    }
}
