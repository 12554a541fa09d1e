using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>
/// BIND as the reference for the master-file format, both ways: named-checkzone must accept what we write unchanged,
/// and must understand a file exactly as we do (its own dump of the file, read by us, is our zone again).
/// </summary>
public sealed class BindInteropTests
{
    /// <summary>Every file in zones/, with its origin (the file name).</summary>
    public static TheoryData<string> SampleZones()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "zones")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(path));
        return data;
    }

    [Fact]
    public void There_are_at_least_two_sample_zones() => Assert.True(SampleZones().Count >= 2);

    [Theory]
    [MemberData(nameof(SampleZones))]
    public void Sample_zone_round_trips_read_write_read_identically(string file)
    {
        var origin = DomainName.Parse(file);
        var zone = ZoneLoader.LoadFile(RepositoryPaths.Zone(file), origin);
        var text = MasterFileWriter.WriteToString(zone);
        var again = ZoneLoader.Load(MasterFileReader.ReadString(text, origin, "written"), origin);
        ZoneAssert.Same(zone, again, file);
        Assert.Equal(text, MasterFileWriter.WriteToString(again));
    }

    [Theory]
    [MemberData(nameof(SampleZones))]
    public async Task Named_checkzone_accepts_every_written_sample_zone_and_reads_it_as_we_do(string file)
    {
        using var dir = new TempDirectory();
        var origin = DomainName.Parse(file);
        var zone = ZoneLoader.LoadFile(RepositoryPaths.Zone(file), origin);
        var written = dir.File(file);
        MasterFileWriter.WriteFile(zone, written);
        var bindDump = await ZoneAssert.BindCanonicalForm(file, written, dir);
        ZoneAssert.Same(zone, ZoneLoader.LoadFile(bindDump, origin), $"BIND's reading of our {file}");
    }

    [Theory]
    [MemberData(nameof(SampleZones))]
    public async Task We_read_every_sample_zone_as_bind_does(string file)
    {
        using var dir = new TempDirectory();
        var origin = DomainName.Parse(file);
        var bindDump = await ZoneAssert.BindCanonicalForm(file, RepositoryPaths.Zone(file), dir);
        ZoneAssert.Same(ZoneLoader.LoadFile(bindDump, origin), ZoneLoader.LoadFile(RepositoryPaths.Zone(file), origin), $"our reading of {file}");
    }

    [Fact]
    public async Task Every_type_we_print_is_read_by_bind_to_the_same_data_and_back()
    {
        using var dir = new TempDirectory();
        var origin = DomainName.Parse("types.example");
        var fixture = ZoneAssert.FixturePath("types.example");
        var warnings = new List<ZoneWarning>();
        var zone = ZoneLoader.LoadFile(fixture, origin, warnings);
        Assert.Empty(warnings);

        // Ours → BIND → ours.
        var written = dir.File("types.example");
        MasterFileWriter.WriteFile(zone, written);
        ZoneAssert.Same(zone, ZoneLoader.LoadFile(await ZoneAssert.BindCanonicalForm("types.example", written, dir), origin), "BIND's reading of our output");

        // The source file as BIND reads it (its dump uses its own spelling of every type: key7=, LOC, CERT mnemonics…).
        ZoneAssert.Same(zone, ZoneLoader.LoadFile(await ZoneAssert.BindCanonicalForm("types.example", fixture, dir), origin), "our reading of BIND's dump");

        // Our output names no type by a mnemonic we could not read back, and keeps ARSoft-unsafe text as octets.
        var text = File.ReadAllText(written);
        Assert.Contains("\"caf\\195\\169\"", text, StringComparison.Ordinal);
        Assert.Contains("\"\\255\\000\"", text, StringComparison.Ordinal);
        Assert.Contains("key7=\"/dns-query{?dns}\" key8", text, StringComparison.Ordinal);
    }
}
