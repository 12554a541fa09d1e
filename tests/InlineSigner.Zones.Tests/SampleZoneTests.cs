using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

public sealed class SampleZoneTests
{
    public static TheoryData<string, string> SampleZones => new()
    {
        { "example.com", "example.com." },
        { "example.org", "example.org." },
    };

    [Theory]
    [MemberData(nameof(SampleZones))]
    public void Sample_zone_round_trips_through_the_writer(string file, string origin)
    {
        var path = RepositoryPaths.Zone(file);
        var zone = ZoneChecks.LoadFile(path, DomainName.Parse(origin));
        var text = MasterFileWriter.WriteToString(zone);
        var again = ZoneChecks.Load(MasterFileReader.ReadString(text, DomainName.Parse(origin), "written"), DomainName.Parse(origin));
        Assert.Equal(text, MasterFileWriter.WriteToString(again));
        Assert.Equal(zone.RRsetCount, again.RRsetCount);
        foreach (var set in zone.RRsets)
            Assert.True(again.Find(set.Owner, set.Type)!.ContentEquals(set), $"{set} changed");
    }
}

