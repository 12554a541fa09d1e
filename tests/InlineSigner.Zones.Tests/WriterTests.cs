using System.Text;
using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

public sealed class WriterTests
{
    private static Zone Sample() => ZoneLoader.LoadFile(RepositoryPaths.Zone("example.com"), DomainName.Parse("example.com"));

    [Fact]
    public void Output_is_one_absolute_record_per_line_soa_first_then_canonical_order()
    {
        var text = MasterFileWriter.WriteToString(Sample());
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith(';')).ToList();
        Assert.StartsWith("example.com.\t3600\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300", lines[0], StringComparison.Ordinal);
        Assert.All(lines, l => Assert.Equal(5, l.Split('\t').Length));
        Assert.All(lines, l => Assert.EndsWith(".", l.Split('\t')[0], StringComparison.Ordinal));
        var owners = lines.Skip(1).Select(l => PresentationFormatName(l.Split('\t')[0])).ToList();
        var sorted = owners.ToList();
        sorted.Sort(CanonicalNameComparer.Instance);
        Assert.Equal(sorted.Select(n => n.ToString()), owners.Select(n => n.ToString()));
        Assert.Contains("www.example.com.\t3600\tIN\tCNAME\texample.com.", lines);
        Assert.Contains("txt.example.com.\t3600\tIN\tTXT\t\"a string with \\\"quotes\\\"\" \"and a \\\\backslash\" \"semi;colon\"", lines);
        Assert.StartsWith("; zone example.com., serial 2026112401\n", text, StringComparison.Ordinal);
    }

    private static DomainName PresentationFormatName(string text) => InlineSigner.Zones.Text.PresentationFormat.ParseName(text, null);

    [Fact]
    public async Task Write_file_and_its_async_form_write_the_same_bytes_and_leave_no_temporary_file()
    {
        using var dir = new TempDirectory();
        var zone = Sample();
        MasterFileWriter.WriteFile(zone, dir.File("sync.zone"));
        await MasterFileWriter.WriteFileAsync(zone, dir.File("async.zone"), CancellationToken.None);
        Assert.Equal(File.ReadAllBytes(dir.File("sync.zone")), File.ReadAllBytes(dir.File("async.zone")));
        Assert.Equal(MasterFileWriter.WriteToString(zone), Encoding.ASCII.GetString(File.ReadAllBytes(dir.File("sync.zone"))));
        Assert.Equal(["async.zone", "sync.zone"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Write_file_replaces_an_existing_file_whole()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("out.zone"), new string('x', 100_000));
        MasterFileWriter.WriteFile(Sample(), dir.File("out.zone"));
        Assert.Equal(MasterFileWriter.WriteToString(Sample()), File.ReadAllText(dir.File("out.zone")));
    }

    [Fact]
    public void Write_file_leaves_nothing_behind_when_it_fails()
    {
        using var dir = new TempDirectory();
        var target = Path.Combine(dir.Path, "missing-subdir", "out.zone");
        Assert.ThrowsAny<IOException>(() => MasterFileWriter.WriteFile(Sample(), target));
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_cancelled_async_write_leaves_the_old_file_and_no_temporary_file()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("out.zone"), "old");
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => MasterFileWriter.WriteFileAsync(Sample(), dir.File("out.zone"), cancel.Token));
        Assert.Equal("old", File.ReadAllText(dir.File("out.zone")));
        Assert.Equal(["out.zone"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Output_is_pure_ascii_whatever_the_data()
    {
        var zone = ZoneLoader.LoadFile(ZoneAssert.FixturePath("types.example"), DomainName.Parse("types.example"));
        var text = MasterFileWriter.WriteToString(zone);
        Assert.True(Ascii.IsValid(text));
    }
}
