using System.Diagnostics;
using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Keys;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster.Tests;

/// <summary>
/// Threshold signing through a cluster of real nodes over CURVE on 127.0.0.1: every honest t-subset works, down and
/// lying nodes change nothing while t honest nodes answer, fewer than t fail fast naming the nodes.
/// </summary>
public sealed class ClusterSigningTests
{
    private static List<ReadOnlyMemory<byte>> Inputs(int count, string tag = "input") =>
        Enumerable.Range(0, count).Select(i => (ReadOnlyMemory<byte>)System.Text.Encoding.ASCII.GetBytes($"{tag} {i}")).ToList();

    /// <summary>
    /// Waits until <paramref name="minimum"/> nodes answer a ping (CURVE connections are made in the background; a
    /// loaded machine can take seconds), and fails naming the nodes that did not, instead of letting the next step
    /// fail with "not connected". Returns as soon as enough answer.
    /// </summary>
    internal static async Task WaitForNodesAsync(ClusterClient client, int minimum)
    {
        var results = await client.WaitForNodesAsync(minimum, Eventually.Deadline, CancellationToken.None);
        Assert.True(results.Count(r => r.Ok) >= minimum,
            $"expected {minimum} nodes to answer a ping within {Eventually.Deadline.TotalSeconds} s; seen: {string.Join("; ", results.Select(r => $"node {r.NodeId}: {r.Error ?? "ok"}"))}");
    }

    internal static async Task<ClusterKeyRecord> RsaKeyAsync(ClusterClient client, string zone = "example.com")
    {
        var (publicKey, shares) = ThresholdTestKeys.DealRsa(512, client.Threshold, client.Config.Nodes.Count);
        await WaitForNodesAsync(client, client.Config.Nodes.Count);
        return await new ClusterKeyManager(client).DistributeRsaAsync(zone, DnsSecAlgorithm.RsaSha256, false, publicKey, shares, null, CancellationToken.None);
    }

    internal static async Task<ClusterKeyRecord> FrostKeyAsync(ClusterClient client, string zone = "example.com", bool ksk = false)
    {
        await WaitForNodesAsync(client, client.Config.Nodes.Count);
        return await new ClusterKeyManager(client).GenerateEd25519Async(zone, ksk, null, CancellationToken.None);
    }

    private static void AssertRsaSignatures(ClusterKeyRecord record, IReadOnlyList<ReadOnlyMemory<byte>> inputs, IReadOnlyList<byte[]> signatures)
    {
        using var rsa = RSA.Create(record.RsaPublicKey().ToRsaParameters());
        Assert.Equal(inputs.Count, signatures.Count);
        for (int i = 0; i < inputs.Count; i++)
            Assert.True(rsa.VerifyData(inputs[i].Span, signatures[i], HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), $"signature {i}");
    }

    private static void AssertEd25519Signatures(ClusterKeyRecord record, IReadOnlyList<ReadOnlyMemory<byte>> inputs, IReadOnlyList<byte[]> signatures)
    {
        var publicKey = Convert.FromBase64String(record.PublicKey);
        Assert.Equal(inputs.Count, signatures.Count);
        for (int i = 0; i < inputs.Count; i++)
            Assert.True(ThresholdTestKeys.Ed25519Verify(publicKey, inputs[i].ToArray(), signatures[i]), $"signature {i}");
    }

    [Fact]
    public async Task Rsa_batches_sign_with_all_nodes_with_two_down_and_fail_fast_with_three_down()
    {
        using var cluster = LocalCluster.Start(5, 3);
        // "Fast" is measured against the request timeout: a client that waited for it would take a minute, one that
        // notices the dropped connections takes well under a second, and a loaded machine has room in between.
        var requestTimeout = TimeSpan.FromSeconds(60);
        using var client = cluster.Client(requestTimeoutMs: (int)requestTimeout.TotalMilliseconds);
        var record = await RsaKeyAsync(client);
        var signer = new ClusterSigner(client, record);
        Assert.Equal(record.KeyTag, signer.KeyTag);

        var inputs = Inputs(300);
        AssertRsaSignatures(record, inputs, await signer.SignAsync(inputs, CancellationToken.None));

        cluster.StopNode(2);
        cluster.StopNode(5);
        var twoDown = Inputs(120, "two down");
        AssertRsaSignatures(record, twoDown, await signer.SignAsync(twoDown, CancellationToken.None));

        cluster.StopNode(1);
        var clock = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAsync<ClusterSigningException>(() => signer.SignAsync(Inputs(10, "three down"), CancellationToken.None));
        Assert.True(clock.Elapsed < requestTimeout / 2, $"took {clock.Elapsed}: the failure waited for the request timeout ({requestTimeout}) instead of noticing the nodes were gone");
        Assert.Contains("only 2 of the 3 shares", failure.Message);
        foreach (var down in new[] { 1, 2, 5 }) Assert.Contains(down, failure.Failures.Keys);
    }

    [Fact]
    public async Task A_lying_rsa_node_is_named_and_deprioritised_while_signing_succeeds()
    {
        using var cluster = LocalCluster.Start(5, 3, lyingNodes: 3);
        using var client = cluster.Client();
        var record = await RsaKeyAsync(client);
        // One node down and one lying: n - t faults, the most the cluster tolerates. With four nodes left the liar
        // is among the first t of most batches.
        cluster.StopNode(1);
        var signer = new ClusterSigner(client, record);
        var inputs = Inputs(200);
        AssertRsaSignatures(record, inputs, await signer.SignAsync(inputs, CancellationToken.None));
        var liar = client.Health().Single(h => h.NodeId == 3);
        Assert.True(liar.BadShares > 0, string.Join("\n", client.Health()));
        Assert.True(liar.Penalised);
        Assert.All(client.Health().Where(h => h.NodeId != 3), h => Assert.Equal(0, h.BadShares));
    }

    [Fact]
    public async Task Frost_key_from_dkg_signs_through_the_cluster_with_all_nodes_and_with_two_down()
    {
        using var cluster = LocalCluster.Start(5, 3);
        using var client = cluster.Client();
        var record = await FrostKeyAsync(client);
        Assert.Equal(KeyScheme.FrostEd25519, record.Scheme);
        Assert.Equal(5, record.FrostPublicKey().VerificationShares.Count);
        var signer = new ClusterSigner(client, record);
        var inputs = Inputs(300);
        AssertEd25519Signatures(record, inputs, await signer.SignAsync(inputs, CancellationToken.None));

        cluster.StopNode(1);
        cluster.StopNode(2);
        var more = Inputs(100, "two down");
        AssertEd25519Signatures(record, more, await signer.SignAsync(more, CancellationToken.None));
    }

    [Fact]
    public async Task A_lying_frost_node_is_named_while_signing_succeeds()
    {
        using var cluster = LocalCluster.Start(5, 3, lyingNodes: 4);
        using var client = cluster.Client();
        var record = await FrostKeyAsync(client);
        cluster.StopNode(1);
        var signer = new ClusterSigner(client, record);
        var inputs = Inputs(300);
        AssertEd25519Signatures(record, inputs, await signer.SignAsync(inputs, CancellationToken.None));
        var liar = client.Health().Single(h => h.NodeId == 4);
        Assert.True(liar.BadShares > 0, string.Join("\n", client.Health()));
        Assert.All(client.Health().Where(h => h.NodeId != 4), h => Assert.Equal(0, h.BadShares));
    }

    /// <summary>A node whose round-one commitments are not group elements (here the identity, of small order).</summary>
    private sealed class InvalidCommitmentFaults : InlineSigner.Cluster.Node.INodeFaults
    {
        public byte[] PreprocessAnswer(KeyScheme scheme, byte[] answer)
        {
            var commit = FrostCommitAnswer.Decode(answer, int.MaxValue);
            return (commit with { Commitments = commit.Commitments.Select(c => ((byte[])[1, .. new byte[31]], c.Binding)).ToList() }).Encode();
        }
    }

    [Fact]
    public Task A_frost_node_handing_out_invalid_commitments_is_named_and_the_nodes_that_refuse_them_are_not() =>
        AssertFrostLiarNamedAsync(liarId: 4, stoppedId: 1, new InvalidCommitmentFaults(), "invalid FROST commitment");

    /// <summary>A node that signs honestly but reports a wrong group commitment R beside its shares.</summary>
    private sealed class WrongGroupCommitmentFaults : InlineSigner.Cluster.Node.INodeFaults
    {
        public byte[] SignAnswer(KeyScheme scheme, byte[] answer) =>
            new FrostSignAnswer(FrostSignAnswer.Decode(answer, int.MaxValue).Items.Select(i => (i.Share, Ed25519Group.BaseMul(Ed25519Group.ScalarFromInt(7)))).ToList()).Encode();
    }

    /// <summary>
    /// The client takes R from the nodes to save t multiplications a signature; a node lying about it must cost only
    /// the client's own recomputation, never a bad signature, and is named.
    /// </summary>
    [Fact]
    public Task A_frost_node_reporting_a_wrong_group_commitment_is_named_and_every_signature_still_verifies() =>
        AssertFrostLiarNamedAsync(liarId: 2, stoppedId: 5, new WrongGroupCommitmentFaults(), "wrong FROST group commitment");

    /// <summary>
    /// A FROST key made by all five, then node <paramref name="liarId"/> restarted with <paramref name="faults"/> and
    /// node <paramref name="stoppedId"/> stopped (four left: most sets of three include the liar): 300 signatures all
    /// verify, the liar is named with <paramref name="expectedError"/>, and nobody else is blamed.
    /// </summary>
    private static async Task AssertFrostLiarNamedAsync(int liarId, int stoppedId, InlineSigner.Cluster.Node.INodeFaults faults, string expectedError)
    {
        using var cluster = LocalCluster.Start(5, 3);
        using var client = cluster.Client();
        var record = await FrostKeyAsync(client);
        cluster.StopNode(liarId);
        cluster.StartNode(liarId, faults);
        cluster.StopNode(stoppedId);
        await WaitForNodesAsync(client, 4);
        var inputs = Inputs(300);
        AssertEd25519Signatures(record, inputs, await new ClusterSigner(client, record).SignAsync(inputs, CancellationToken.None));
        var liar = client.Health().Single(h => h.NodeId == liarId);
        Assert.True(liar.BadShares > 0, string.Join("\n", client.Health()));
        Assert.Contains(expectedError, liar.LastError);
        Assert.All(client.Health().Where(h => h.NodeId != liarId), h => Assert.Equal(0, h.BadShares));
    }

    [Fact]
    public async Task Two_distributed_key_generations_in_a_row_both_succeed()
    {
        // Regression: a node zeroed its CURVE secret key (NetMQCertificate.SecretKey is not a copy) after boxing DKG
        // shares, so it could not open its peers' boxes and every DKG failed with everyone accused.
        using var cluster = LocalCluster.Start(3, 2);
        using var client = cluster.Client();
        var first = await FrostKeyAsync(client, "one.example");
        var second = await FrostKeyAsync(client, "two.example", ksk: true);
        Assert.NotEqual(first.PublicKey, second.PublicKey);
        var inputs = Inputs(20);
        AssertEd25519Signatures(second, inputs, await new ClusterSigner(client, second).SignAsync(inputs, CancellationToken.None));
    }

    [Fact]
    public async Task Nodes_listen_and_sign_over_ipv6()
    {
        using var cluster = LocalCluster.Start(3, 2, "::1", null);
        for (int id = 1; id <= 3; id++) Assert.StartsWith("tcp://[::1]:", cluster.NodeConfig(id).File.Listen.Single());
        using var client = cluster.Client();
        var record = await RsaKeyAsync(client);
        var inputs = Inputs(20);
        AssertRsaSignatures(record, inputs, await new ClusterSigner(client, record).SignAsync(inputs, CancellationToken.None));
    }

    [Fact]
    public async Task Frost_signing_below_threshold_fails_with_the_nodes_named()
    {
        using var cluster = LocalCluster.Start(3, 2);
        // The default request timeout, not a short one: the stopped nodes are noticed by their dropped connections at
        // once, while a 2 s budget could run out on a loaded machine before node 3 was even tried (and not be named).
        using var client = cluster.Client();
        var record = await FrostKeyAsync(client);
        cluster.StopNode(1);
        cluster.StopNode(3);
        var failure = await Assert.ThrowsAsync<ClusterSigningException>(() => new ClusterSigner(client, record).SignAsync(Inputs(5), CancellationToken.None));
        Assert.Contains(1, failure.Failures.Keys);
        Assert.Contains(3, failure.Failures.Keys);
    }
}
