using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Node;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Tests.Shared;

#pragma warning disable CA1416 // the product and its tests run on Linux

namespace InlineSigner.Cluster.Tests;

/// <summary>The node's encrypted share store and the configuration files: clear errors, nothing overwritten.</summary>
public sealed class ShareStoreAndConfigTests
{
    private static readonly byte[] Passphrase = "correct horse battery staple"u8.ToArray();

    private static StoredKey Key(string id) => new(id, KeyScheme.ShoupRsa, 1, [1, 2, 3], [9, 9, 9, 9], 1000, [], 0);

    [Fact]
    public async Task Shares_survive_reopening_and_secrets_are_not_in_the_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("node.store");
        using (var store = ShareStore.Open(path, Passphrase, 10_000))
        {
            await store.PutAsync(Key("alpha") with { Share = "SECRET-SHARE-BYTES"u8.ToArray() }, false, CancellationToken.None);
            await store.PutAsync(Key("beta"), false, CancellationToken.None);
            await Assert.ThrowsAsync<InvalidOperationException>(() => store.PutAsync(Key("beta"), false, CancellationToken.None));
            Assert.True(await store.DeleteAsync("beta", CancellationToken.None));
        }
        Assert.DoesNotContain("SECRET-SHARE-BYTES", File.ReadAllText(path));
        using var reopened = ShareStore.Open(path, Passphrase, 10_000);
        Assert.Equal(["alpha"], reopened.Keys().Select(k => k.KeyId));
        Assert.Equal("SECRET-SHARE-BYTES"u8.ToArray(), reopened.Find("alpha")!.Share);
        Assert.DoesNotContain("SECRET", reopened.Find("alpha")!.ToString());
    }

    [Fact]
    public async Task Wrong_passphrase_tampering_truncation_and_a_second_user_are_clear_errors_and_leave_the_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("node.store");
        using (var store = ShareStore.Open(path, Passphrase, 10_000))
        {
            await store.PutAsync(Key("alpha"), false, CancellationToken.None);
            var busy = Assert.Throws<ShareStoreException>(() => ShareStore.Open(path, Passphrase, 10_000));
            Assert.Contains("in use", busy.Message);
        }
        var original = File.ReadAllBytes(path);

        var wrong = Assert.Throws<ShareStoreException>(() => ShareStore.Open(path, "another passphrase!"u8, 10_000));
        Assert.Contains(path, wrong.Message);
        for (int i = 0; i < original.Length; i += Math.Max(1, original.Length / 25))
        {
            var tampered = original.ToArray();
            tampered[i] ^= 0x01;
            File.WriteAllBytes(path, tampered);
            var e = Assert.Throws<ShareStoreException>(() => ShareStore.Open(path, Passphrase, 10_000));
            Assert.Contains(path, e.Message);
            Assert.Equal(tampered, File.ReadAllBytes(path)); // never silently overwritten
        }
        File.WriteAllBytes(path, original[..(original.Length / 2)]);
        Assert.Throws<ShareStoreException>(() => ShareStore.Open(path, Passphrase, 10_000));
        File.WriteAllBytes(path, original);
        using var fine = ShareStore.Open(path, Passphrase, 10_000);
        Assert.Single(fine.Keys());
    }

    [Fact]
    public void Genconfig_writes_a_consistent_cluster_and_refuses_to_overwrite()
    {
        using var dir = new TempDirectory();
        var generated = ClusterSetup.GenerateCluster(dir.Path, 5, 3, 30_001);
        var cluster = ClusterConfig.Load(generated.ClusterConfigPath);
        Assert.Equal(3, cluster.Threshold);
        Assert.Equal(5, cluster.Nodes.Count);
        for (int i = 1; i <= 5; i++)
        {
            var node = NodeConfig.Load(dir.File($"node{i}.json"));
            Assert.Equal(i, node.NodeId);
            Assert.Equal($"tcp://127.0.0.1:{30_000 + i}", node.File.Listen.Single());
            Assert.Equal(cluster.NodeCurveKeys[i], node.Certificate.PublicKey);
            Assert.Equal(generated.ClientPublicKey, Convert.ToBase64String(node.AllowedClients.Single()));
            Assert.Equal(4, node.PeerKeys.Count);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dir.File($"node{i}.pass")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dir.File($"node{i}.json")));
            Assert.True(node.ReadPassphrase().Length >= 32);
        }
        var again = Assert.Throws<ClusterConfigException>(() => ClusterSetup.GenerateCluster(dir.Path, 5, 3, 30_001));
        Assert.Contains("already exists", again.Message);
        Assert.Throws<ClusterConfigException>(() => ClusterSetup.GenerateCluster(dir.File("other"), 3, 4));
    }

    [Theory]
    [InlineData("threshold", "6", "cannot meet threshold")]
    [InlineData("threshold", "0", "at least 1")]
    [InlineData("clientSecretKey", "\"not base64!\"", "not base64")]
    [InlineData("requestTimeoutMs", "5", "requestTimeoutMs")]
    public void Bad_cluster_configuration_is_a_clear_error_naming_the_field(string field, string value, string expected)
    {
        using var dir = new TempDirectory();
        var generated = ClusterSetup.GenerateCluster(dir.Path, 5, 3, 30_001);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(generated.ClusterConfigPath))!;
        json[field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        File.WriteAllText(generated.ClusterConfigPath, json.ToJsonString());
        var e = Assert.Throws<ClusterConfigException>(() => ClusterConfig.Load(generated.ClusterConfigPath));
        Assert.Contains(expected, e.Message);
        Assert.Contains(generated.ClusterConfigPath, e.Message);
    }

    [Fact]
    public void Bad_node_configuration_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        ClusterSetup.GenerateCluster(dir.Path, 3, 2, 30_001);
        var path = dir.File("node1.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        json["curveSecretKey"] = "tooShort";
        File.WriteAllText(path, json.ToJsonString());
        Assert.Contains("curveSecretKey", Assert.Throws<ClusterConfigException>(() => NodeConfig.Load(path)).Message);

        File.SetUnixFileMode(dir.File("node2.pass"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Contains("chmod 600", Assert.Throws<ClusterConfigException>(() => NodeConfig.Load(dir.File("node2.json")).ReadPassphrase()).Message);
        File.WriteAllText(dir.File("node3.json"), "{ not json");
        Assert.Contains("node3.json", Assert.Throws<ClusterConfigException>(() => NodeConfig.Load(dir.File("node3.json"))).Message);
    }
}
