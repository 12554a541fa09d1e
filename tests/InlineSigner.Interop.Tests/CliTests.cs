using InlineSigner.Tests.Shared;

namespace InlineSigner.Interop.Tests;

/// <summary>The `inline-signer` program as a user runs it: real process, exit codes, one-line errors, files.</summary>
public sealed class CliTests
{
    internal static Task<ToolResult> RunCli(params string[] arguments) => ExternalTool.RunInlineSignerAsync(arguments);

    [Fact]
    public async Task Seed_workflow_generate_sign_verify_digest_works_and_real_validators_agree()
    {
        using var dir = new TempDirectory();
        var keys = Path.Combine(dir.Path, "keys");
        var zsk = await RunCli("keys", "generate", "--zone", "example.com", "--algorithm", "ecdsap256sha256", "--dir", keys);
        Assert.True(zsk.ExitCode == 0, zsk.All);
        var ksk = await RunCli("keys", "generate", "--zone", "example.com", "--algorithm", "13", "--ksk", "--dir", keys);
        Assert.True(ksk.ExitCode == 0, ksk.All);
        Assert.Contains("IN\tDS\t", ksk.Output);
        var list = await RunCli("keys", "list", "--zone", "example.com", "--dir", keys);
        Assert.Equal(2, list.Output.Trim().Split('\n').Length);

        var signed = dir.File("example.com.signed");
        var sign = await RunCli("sign", "--zone", "example.com", "--in", RepositoryPaths.Zone("example.com"), "--out", signed,
            "--key-dir", keys, "--nsec3", "--opt-out", "--zonemd", "sha384");
        Assert.True(sign.ExitCode == 0, sign.All);
        Assert.Matches(@"signed example\.com\.: \d+ RRsets, \d+ signatures, [\d.]+ s", sign.Output);

        var verify = await RunCli("verify", "--zone", "example.com", "--in", signed);
        Assert.True(verify.ExitCode == 0, verify.All);
        Assert.StartsWith("OK:", verify.Output.Trim().Split('\n')[^1]);
        Assert.Equal(0, (await ExternalTool.RunAsync("dnssec-verify", "-o", "example.com", signed)).ExitCode);
        Assert.Equal(0, (await ExternalTool.RunAsync("ldns-verify-zone", signed)).ExitCode);

        // digest refreshes ZONEMD in an unsigned zone; ldns checks it.
        var digested = dir.File("digested.zone");
        var digest = await RunCli("digest", "--zone", "example.com", "--in", RepositoryPaths.Zone("example.com"), "--out", digested, "--hash", "sha512");
        Assert.True(digest.ExitCode == 0, digest.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", "-Z", digested);
        Assert.True(ldns.ExitCode == 0, ldns.All);

        // A tampered zone fails verify with exit code 1 and names the problem.
        var text = await File.ReadAllTextAsync(signed);
        await File.WriteAllTextAsync(dir.File("tampered.zone"), text.Replace("192.0.2.25", "192.0.2.26", StringComparison.Ordinal));
        var bad = await RunCli("verify", "--zone", "example.com", "--in", dir.File("tampered.zone"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("mail.example.com. A: ", bad.Output);
    }

    [Theory]
    [InlineData("wrong-zone")]
    [InlineData("missing-key")]
    [InlineData("missing-file")]
    [InlineData("broken-zone")]
    public async Task Sign_errors_are_one_line_nonzero_and_write_nothing(string problem)
    {
        using var dir = new TempDirectory();
        var keys = Path.Combine(dir.Path, "keys");
        Assert.Equal(0, (await RunCli("keys", "generate", "--zone", "example.com", "--algorithm", "ED25519", "--dir", keys)).ExitCode);
        File.WriteAllText(dir.File("broken.zone"), "$TTL 300\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nhost A 999.1.1.1\n");
        var output = dir.File("out.zone");
        string[] args = problem switch
        {
            "wrong-zone" => ["sign", "--zone", "example.org", "--in", RepositoryPaths.Zone("example.com"), "--out", output, "--key-dir", keys],
            "missing-key" => ["sign", "--zone", "example.com", "--in", RepositoryPaths.Zone("example.com"), "--out", output, "--key-dir", dir.File("nokeys")],
            "missing-file" => ["sign", "--zone", "example.com", "--in", dir.File("nope.zone"), "--out", output, "--key-dir", keys],
            _ => ["sign", "--zone", "example.com", "--in", dir.File("broken.zone"), "--out", output, "--key-dir", keys],
        };
        var result = await RunCli(args);
        Assert.NotEqual(0, result.ExitCode);
        var lines = result.Error.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("inline-signer: error: ", lines[0]);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        if (problem == "broken-zone") Assert.Contains("broken.zone:4:", lines[0]);
        if (problem == "wrong-zone") Assert.Contains("not for --zone example.org.", lines[0]);
    }

    [Fact]
    public async Task Every_command_has_help()
    {
        foreach (var command in new[] { new[] { "sign" }, ["verify"], ["digest"], ["keys"], ["keys", "generate"], ["keys", "list"], ["bench"], ["bench", "sign"], ["bench", "cluster"] })
        {
            var result = await RunCli([.. command, "--help"]);
            Assert.True(result.ExitCode == 0, string.Join(' ', command) + ": " + result.All);
            Assert.Contains("Usage:", result.Output);
        }
        var unknown = await RunCli("frobnicate");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.StartsWith("inline-signer: error: ", unknown.Error);
    }
}
