using System.Globalization;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Zones.Tests;

/// <summary>
/// Each broken file in Corpus/ must fail with a <see cref="ZoneFileException"/> naming the file, the line and the
/// problem. Every file starts with "; expect LINE: FRAGMENT" (LINE 0 when no one line is to blame).
/// </summary>
public sealed partial class ErrorCorpusTests
{
    private static string CorpusDirectory => Path.Combine(RepositoryPaths.Root, "tests", "InlineSigner.Zones.Tests", "Corpus");

    [GeneratedRegex(@"^; expect (\d+): (.+)$")]
    private static partial Regex ExpectLine();

    private static (int Line, string Fragment) Expectation(string file)
    {
        var first = File.ReadLines(Path.Combine(CorpusDirectory, file)).First();
        var match = ExpectLine().Match(first);
        Assert.True(match.Success, $"{file} does not start with '; expect LINE: FRAGMENT'");
        return (int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value);
    }

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(CorpusDirectory, "*.zone").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(path));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Broken_zone_is_rejected_with_file_line_and_reason(string file)
    {
        var (line, fragment) = Expectation(file);
        var path = Path.Combine(CorpusDirectory, file);
        var error = Assert.Throws<ZoneFileException>(() => ZoneLoader.LoadFile(path, DomainName.Parse("example.org")));
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.Equal(line, error.Line);
        Assert.Equal(Path.GetFileName(path), Path.GetFileName(error.File));
        Assert.StartsWith(line > 0 ? $"{error.File}:{line}: " : $"{error.File}: ", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<FormatException>(error);
    }

    [Fact]
    public void Corpus_covers_at_least_fifteen_distinct_errors()
    {
        var fragments = Directory.GetFiles(CorpusDirectory, "*.zone").Select(path => Expectation(Path.GetFileName(path)).Fragment).Distinct().ToList();
        Assert.True(fragments.Count >= 15, $"only {fragments.Count} distinct errors");
    }

    [Fact]
    public void An_error_inside_an_included_file_names_that_file_and_its_line()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("inner.zone"), "ok A 192.0.2.1\nbad A 192.0.2.999\n");
        File.WriteAllText(dir.File("main.zone"), "$TTL 60\n@ SOA ns admin 1 2 3 4 5\n$INCLUDE inner.zone\n");
        var error = Assert.Throws<ZoneFileException>(() => MasterFileReader.ReadFile(dir.File("main.zone"), DomainName.Parse("example.org")));
        Assert.Equal(dir.File("inner.zone"), error.File);
        Assert.Equal(2, error.Line);
        Assert.Contains("'192.0.2.999' is not an IPv4 address", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_a_zone_file_exception_naming_it()
    {
        using var dir = new TempDirectory();
        var error = Assert.Throws<ZoneFileException>(() => ZoneLoader.LoadFile(dir.File("absent.zone"), DomainName.Parse("example.org")));
        Assert.Equal(dir.File("absent.zone"), error.File);
        Assert.Contains("cannot read the file", error.Message, StringComparison.Ordinal);
    }
}
