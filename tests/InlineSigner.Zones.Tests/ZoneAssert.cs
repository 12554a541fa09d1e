using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>Helpers shared by the zone tests.</summary>
internal static class ZoneAssert
{
    /// <summary>Same RRsets with the same records (canonical RDATA), TTLs and owner spelling.</summary>
    public static void Same(Zone expected, Zone actual, string context)
    {
        var diff = ZoneDiff.Compute(expected, actual);
        Assert.True(diff.IsEmpty, $"{context}: zones differ:\n" + string.Join('\n', diff.Changes.Take(20).Select(c =>
            $"  {c.Owner} {c.Type}: -[{string.Join(" | ", c.RemovedRecords.Select(MasterFileWriter.FormatRecord))}] +[{string.Join(" | ", c.AddedRecords.Select(MasterFileWriter.FormatRecord))}]")));
        Assert.Equal(expected.RRsetCount, actual.RRsetCount);
        foreach (var set in expected.RRsets)
            Assert.True(actual.Find(set.Owner, set.Type)?.ContentEquals(set), $"{context}: {set} differs");
    }

    public static string FixturePath(string name) => Path.Combine(RepositoryPaths.Root, "tests", "InlineSigner.Zones.Tests", "Fixtures", name);

    /// <summary>Runs BIND's named-checkzone (the real binary; a missing one fails the test) with full integrity
    /// checks and returns the zone it dumps in its own canonical text form.</summary>
    public static async Task<string> BindCanonicalForm(string origin, string zoneFile, TempDirectory dir)
    {
        var dumped = dir.File($"bind-{Guid.NewGuid():N}.zone");
        var result = await ExternalTool.RunAsync("named-checkzone", "-k", "fail", "-i", "local", "-D", "-o", dumped, origin, zoneFile);
        Assert.True(result.ExitCode == 0, $"named-checkzone refused {zoneFile}:\n{result.All}");
        Assert.Contains("OK", result.Output, StringComparison.Ordinal);
        return dumped;
    }

    public static DomainName Name(string text) => DomainName.Parse(text);
}
