using System.Text.Json.Nodes;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests;

/// <summary>GenerateKeys with local keys: the first start writes a KSK and a ZSK into the key directory, later starts use them.</summary>
public sealed class LocalKeyGenerationTests
{
    private static string[] KeyFiles(SignerProcess signer) =>
        Directory.GetFiles(signer.KeyDirectory, "Kexample.com.+*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public async Task An_empty_key_directory_gets_a_ksk_and_a_zsk_on_first_start_and_keeps_them()
    {
        using var dir = new TempDirectory();
        var zoneFile = dir.File("example.com");
        File.Copy(RepositoryPaths.Zone("example.com"), zoneFile);
        // Regression: the empty directory's "no keys" came out as FileNotFoundException, which the key generation did not
        // expect, and the daemon refused to start instead of making the keys it was configured to make.
        await using var signer = SignerProcess.Create([new JsonObject { ["Name"] = "example.com", ["ZoneFile"] = zoneFile }]);
        await signer.StartAsync();
        await signer.WaitForLogAsync(@"zone example\.com\. serial 2026112401: committed \(full", TimeSpan.FromSeconds(60));
        var files = KeyFiles(signer);
        Assert.Equal(4, files.Length); // .key and .private of each
        var dnskeys = await signer.Dig("example.com", "DNSKEY", "+short");
        Assert.Contains(dnskeys.Output.Split('\n'), l => l.StartsWith("257 3 15 ", StringComparison.Ordinal));
        Assert.Contains(dnskeys.Output.Split('\n'), l => l.StartsWith("256 3 15 ", StringComparison.Ordinal));
        Assert.Equal(0, await signer.StopAsync());

        int mark = signer.Log.Length;
        await signer.StartAsync();
        Assert.Equal(files, KeyFiles(signer));
        Assert.DoesNotContain("no keys yet", signer.Log[mark..], StringComparison.Ordinal);
        Assert.Equal(dnskeys.Output, (await signer.Dig("example.com", "DNSKEY", "+short")).Output);
    }
}
