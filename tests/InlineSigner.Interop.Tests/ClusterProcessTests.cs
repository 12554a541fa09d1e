using System.Diagnostics;
using System.Net.Sockets;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Node;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold.Frost;
using Microsoft.Extensions.Logging.Abstractions;

namespace InlineSigner.Interop.Tests;

/// <summary>
/// The seed workflow with real processes on 127.0.0.1: `node genconfig`, five `node run` processes, `keys generate`
/// (threshold RSA dealt to the nodes, Ed25519 by distributed key generation), `sign --cluster`, and BIND's and ldns's
/// validators on the result — with nodes killed, restarted, lying, and strangers knocking.
/// </summary>
public sealed class ClusterProcessTests
{
    private static async Task<(string KeyId, int Tag)> GenerateAsync(NodeProcesses nodes, string algorithm, params string[] extra)
    {
        var result = await CliTests.RunCli(["keys", "generate", "--cluster", nodes.ClusterJson, "--zone", "example.com", "--algorithm", algorithm, .. extra]);
        Assert.True(result.ExitCode == 0, result.All);
        var line = result.Output.Split('\n').First(l => l.StartsWith("key ", StringComparison.Ordinal));
        var parts = line.Split(' ');
        return (parts[1], int.Parse(parts[4]));
    }

    private static async Task<ToolResult> SignAsync(NodeProcesses nodes, string input, string output, params string[] extra) =>
        await CliTests.RunCli(["sign", "--zone", "example.com", "--in", input, "--out", output, "--cluster", nodes.ClusterJson, "-q", .. extra]);

    /// <summary>BIND, ldns and our verifier accept the zone; <paramref name="singleKey"/>: one key signs everything (CSK), so BIND ignores the KSK flag.</summary>
    private static async Task AssertValidatorsAcceptAsync(string signed, bool singleKey = false)
    {
        var bind = await ExternalTool.RunAsync("dnssec-verify", singleKey ? ["-z", "-o", "example.com", signed] : ["-o", "example.com", signed]);
        Assert.True(bind.ExitCode == 0, bind.All);
        var ldns = await ExternalTool.RunAsync("ldns-verify-zone", signed);
        Assert.True(ldns.ExitCode == 0, ldns.All);
        var ours = await CliTests.RunCli("verify", "--zone", "example.com", "--in", signed);
        Assert.True(ours.ExitCode == 0, ours.All);
    }

    [Fact]
    public async Task Genconfig_nodes_generate_sign_verify_with_two_nodes_killed_and_fail_fast_with_three()
    {
        await using var nodes = await NodeProcesses.StartAsync(5, 3);
        var rsa = await GenerateAsync(nodes, "rsasha256", "--bits", "1024");
        var ksk = await GenerateAsync(nodes, "ed25519", "--ksk");
        var zsk = await GenerateAsync(nodes, "ed25519");
        Assert.True(File.Exists(nodes.Directory.File(ksk.KeyId + ".ds")));
        Assert.True(File.Exists(nodes.Directory.File(rsa.KeyId + ".dnskey")));

        var list = await CliTests.RunCli("keys", "list", "--cluster", nodes.ClusterJson);
        Assert.True(list.ExitCode == 0, list.All);
        Assert.Contains($"{rsa.KeyId}\texample.com.\tRSASHA256\tZSK\t{rsa.Tag}\t5/5", list.Output);
        Assert.Contains($"{ksk.KeyId}\texample.com.\tED25519\tKSK\t{ksk.Tag}\t5/5", list.Output);
        Assert.Contains($"{zsk.KeyId}\texample.com.\tED25519\tZSK\t{zsk.Tag}\t5/5", list.Output);

        // Ed25519 KSK and ZSK, both made by distributed key generation.
        var signed = nodes.Directory.File("all.signed");
        var sign = await SignAsync(nodes, RepositoryPaths.Zone("example.com"), signed, "--nsec3", "--key-id", ksk.KeyId, "--key-id", zsk.KeyId);
        Assert.True(sign.ExitCode == 0, sign.All);
        await AssertValidatorsAcceptAsync(signed);

        // Threshold RSA, dealt and erased by the dealer, with two of five nodes gone.
        nodes.Kill(1);
        nodes.Kill(4);
        var degraded = nodes.Directory.File("two-down.signed");
        sign = await SignAsync(nodes, RepositoryPaths.Zone("example.com"), degraded, "--key-id", rsa.KeyId);
        Assert.True(sign.ExitCode == 0, sign.All);
        await AssertValidatorsAcceptAsync(degraded, singleKey: true);

        // export-public prints what generate wrote; delete removes the key from every node still up and the key store.
        var export = await CliTests.RunCli("keys", "export-public", "--cluster", nodes.ClusterJson, "--key-id", ksk.KeyId);
        Assert.True(export.ExitCode == 0, export.All);
        Assert.Equal(File.ReadAllText(nodes.Directory.File(ksk.KeyId + ".dnskey")).Trim(), export.Output.Split('\n')[0].Trim());
        Assert.Contains("\tDS\t", export.Output);

        nodes.Kill(2);
        // "Fast" is measured against the request timeout, made long here: a sign that waited for it would take over a
        // minute and a half; one that sees at once that too few nodes answer takes its few seconds of connecting plus
        // the start of a process, which a loaded machine may stretch, but not by a minute.
        var requestTimeout = TimeSpan.FromSeconds(90);
        var clusterJson = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(nodes.ClusterJson))!;
        clusterJson["requestTimeoutMs"] = (int)requestTimeout.TotalMilliseconds;
        File.WriteAllText(nodes.ClusterJson, clusterJson.ToJsonString());
        var failed = nodes.Directory.File("three-down.signed");
        var clock = Stopwatch.StartNew();
        sign = await SignAsync(nodes, RepositoryPaths.Zone("example.com"), failed, "--key-id", rsa.KeyId);
        Assert.NotEqual(0, sign.ExitCode);
        Assert.True(clock.Elapsed < requestTimeout / 2, $"took {clock.Elapsed}: the failure waited for the request timeout ({requestTimeout}) instead of failing fast:\n{sign.All}");
        Assert.Contains("only 2 of 5 cluster nodes answer, 3 are needed", sign.Error);
        foreach (var down in new[] { 1, 2, 4 }) Assert.Contains($"node {down} (tcp://127.0.0.1:{nodes.BasePort + down - 1})", sign.Error);
        Assert.False(File.Exists(failed));
        Assert.Empty(Directory.GetFiles(nodes.Directory.Path, "three-down*"));

        var delete = await CliTests.RunCli("keys", "delete", "--cluster", nodes.ClusterJson, "--key-id", zsk.KeyId);
        Assert.NotEqual(0, delete.ExitCode); // three nodes are down: their shares could not be deleted, and it says so
        Assert.Contains("deleted on 2 of 5 nodes", delete.Output);
        var after = await CliTests.RunCli("keys", "list", "--cluster", nodes.ClusterJson);
        Assert.DoesNotContain(zsk.KeyId + "\texample.com.", after.Output);
    }

    [Fact]
    public async Task A_node_returning_corrupted_shares_is_named_while_signing_succeeds()
    {
        await using var nodes = await NodeProcesses.StartAsync(5, 3);
        var rsa = await GenerateAsync(nodes, "rsasha256", "--bits", "1024");
        // Node 3 is replaced by one that lies: same configuration and share store, corrupted signature shares.
        nodes.Kill(3);
        var config = NodeConfig.Load(nodes.NodeJson(3));
        var passphrase = config.ReadPassphrase();
        using var store = ShareStore.Open(config.StorePath, passphrase);
        using var liar = new NodeServer(config, store, NullLogger.Instance, null, new CorruptingFaults());
        liar.Start();
        nodes.Kill(5); // with four nodes left, the liar is among the first three of most batches

        var signed = nodes.Directory.File("liar.signed");
        var sign = await SignAsync(nodes, RepositoryPaths.Zone("example.com"), signed, "--key-id", rsa.KeyId);
        Assert.True(sign.ExitCode == 0, sign.All);
        Assert.Matches(@"node 3 \(tcp://127\.0\.0\.1:\d+\) returned \d+ bad signature share\(s\)", sign.Error);
        await AssertValidatorsAcceptAsync(signed, singleKey: true);
    }

    [Fact]
    public async Task A_node_killed_and_restarted_mid_signing_comes_back_with_its_shares_and_fresh_nonces()
    {
        await using var nodes = await NodeProcesses.StartAsync(5, 3);
        var ed = await GenerateAsync(nodes, "ed25519");
        var zone = nodes.Directory.File("big.zone");
        await File.WriteAllLinesAsync(zone, new[]
        {
            "$ORIGIN example.com.", "$TTL 3600",
            "@ SOA ns1 hostmaster 1 7200 3600 1209600 3600", "@ NS ns1", "ns1 A 192.0.2.1",
        }.Concat(Enumerable.Range(0, 2000).Select(i => $"host{i} A 192.0.2.{i % 250 + 1}")));

        // Kill node 1 once it takes part in the signing (it persists every nonce reservation to its share store), not
        // after a guessed delay: on a loaded machine 400 ms may not even cover starting the signing process.
        var store1 = NodeConfig.Load(nodes.NodeJson(1)).StorePath;
        var storeBefore = File.GetLastWriteTimeUtc(store1);
        var signing = SignAsync(nodes, zone, nodes.Directory.File("big.signed"));
        await Eventually.AssertAsync(() => File.GetLastWriteTimeUtc(store1) != storeBefore || signing.IsCompleted,
            "node 1 reserved nonces for the signing (its share store was written)", () => $"store last written {File.GetLastWriteTimeUtc(store1):O}", TimeSpan.FromMinutes(2));
        nodes.Kill(1);
        await nodes.StartNodeAsync(1);
        var sign = await signing;
        Assert.True(sign.ExitCode == 0, sign.All);
        await AssertValidatorsAcceptAsync(nodes.Directory.File("big.signed"), singleKey: true);

        // Node 1 has its share back and its nonce numbers moved past everything it may have spent before the kill.
        nodes.Kill(1);
        ulong durable;
        var config = NodeConfig.Load(nodes.NodeJson(1));
        var passphrase = config.ReadPassphrase();
        using (var store = ShareStore.Open(config.StorePath, passphrase)) durable = store.Find(ed.KeyId)!.NextNonce;
        await nodes.StartNodeAsync(1);
        using var client = ClusterClient.Create(nodes.ClusterJson);
        var up = await client.WaitForNodesAsync(5, Eventually.Deadline, CancellationToken.None);
        Assert.True(up.All(r => r.Ok), string.Join("; ", up.Select(r => $"node {r.NodeId}: {r.Error ?? "ok"}")));
        var commit = new KeyStepRequest(ed.KeyId, KeyScheme.FrostEd25519, new FrostCommitRequest(4).Encode()).Encode();
        var reply = FrostCommitAnswer.Decode(await client.RequestAsync(1, MessageType.Preprocess, commit, Eventually.Deadline, 0, CancellationToken.None), 4);
        Assert.True(reply.FirstNonce >= durable, $"node 1 offers nonce {reply.FirstNonce} after a restart, but {durable} may already be spent");

        // And it signs: with two others down, node 1 is needed.
        nodes.Kill(2);
        nodes.Kill(3);
        var again = await SignAsync(nodes, RepositoryPaths.Zone("example.com"), nodes.Directory.File("after.signed"));
        Assert.True(again.ExitCode == 0, again.All);
        await AssertValidatorsAcceptAsync(nodes.Directory.File("after.signed"), singleKey: true);
    }

    [Fact]
    public async Task Strangers_garbage_and_truncated_frames_get_no_answer_and_do_not_crash_a_node()
    {
        await using var nodes = await NodeProcesses.StartAsync(1, 1);
        // A client whose key is not on the node's allow-list: its requests are never answered.
        var real = ClusterConfig.Load(nodes.ClusterJson);
        using var strangerKey = InlineSigner.Cluster.Crypto.Ed25519SigningKey.Generate();
        var strangerFile = real.File with { ClientSecretKey = Convert.ToBase64String(strangerKey.ExportSeed()), ClientPublicKey = null, RequestTimeoutMs = 1500 };
        using (var stranger = ClusterClient.Create(ClusterConfig.FromFile(strangerFile, nodes.ClusterJson)))
        {
            // Not "no answer within 3 s" alone (on a loaded machine the stranger may not even have connected by then, so
            // the node would never have seen its request): keep asking until the node has logged the refusal — the
            // proof that a request arrived — and no round may ever bring an answer.
            var clock = Stopwatch.StartNew();
            do
            {
                var results = await stranger.WaitForNodesAsync(1, TimeSpan.FromSeconds(3), CancellationToken.None);
                Assert.False(results.Single().Ok, "the node answered a client that is not on its allow-list");
            }
            while (!nodes.Log(1).Contains("not on the allow-list", StringComparison.Ordinal) && clock.Elapsed < Eventually.Deadline);
        }

        // Raw TCP garbage (not even ZMTP), and truncated ZMTP greetings.
        var endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, nodes.BasePort);
        var random = new Random(7);
        foreach (var length in new[] { 1, 10, 64, 4096, 100_000 })
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(endpoint);
            var garbage = new byte[length];
            random.NextBytes(garbage);
            if (length == 10) garbage = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F]; // a ZMTP signature, then nothing
            try { await tcp.GetStream().WriteAsync(garbage); } catch (IOException) { }
            await Task.Delay(50);
        }

        using var client = ClusterClient.Create(nodes.ClusterJson);
        var ping = await client.WaitForNodesAsync(1, Eventually.Deadline, CancellationToken.None);
        Assert.True(ping.Single().Ok, ping.Single().Error);
        Assert.Contains("not on the allow-list", nodes.Log(1));
    }
}
