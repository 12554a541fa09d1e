using System.Globalization;
using System.Security.Cryptography;
using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Node;
using NetMQ;

namespace InlineSigner.Cluster;

/// <summary>What <see cref="ClusterSetup.GenerateCluster"/> wrote.</summary>
public sealed record GeneratedCluster(string ClusterConfigPath, IReadOnlyList<string> NodeConfigPaths, string ClientPublicKey);

/// <summary>
/// Configuration generation for `inline-signer node init` and `inline-signer node genconfig`: CURVE key pairs for
/// nodes, an Ed25519 key pair for the client, share-store passphrase files (mode 0600), every node allowing the
/// client and knowing its peers' CURVE keys (for distributed key generation), so each node runs with nothing else set.
/// </summary>
public static class ClusterSetup
{
    public const int DefaultBasePort = 9701;

    /// <summary>
    /// Writes DIR/node1.json … nodeN.json, their passphrase files, and DIR/cluster.json. Node i uses port basePort + i − 1.
    /// Without <paramref name="hosts"/> every node is on <paramref name="host"/>: it listens there and the client connects
    /// there. With <paramref name="hosts"/> (one per node, e.g. container names) the client connects to node i at
    /// hosts[i − 1], and the nodes listen on <paramref name="listenAddress"/> (default 0.0.0.0): a name that only
    /// resolves inside the node's own network cannot be relied on as a bind address. Every node gets
    /// <paramref name="limits"/> (default: the defaults of <see cref="NodeLimits"/>). Refuses to overwrite existing files.
    /// </summary>
    public static GeneratedCluster GenerateCluster(string directory, int nodes, int threshold, int basePort = DefaultBasePort, string host = "127.0.0.1",
        IReadOnlyList<string>? hosts = null, string? listenAddress = null, NodeLimits? limits = null)
    {
        if (nodes is < 1 or > ProtocolConstants.MaxNodeId) throw new ClusterConfigException($"--nodes {nodes} must be 1..{ProtocolConstants.MaxNodeId}");
        if (threshold < 1 || threshold > nodes) throw new ClusterConfigException($"--threshold {threshold} must be 1..{nodes} (n >= t)");
        if (basePort < 1 || basePort + nodes - 1 > 65535) throw new ClusterConfigException($"--base-port {basePort}: ports {basePort}..{basePort + nodes - 1} must be 1..65535");
        if (hosts is not null && hosts.Count != nodes) throw new ClusterConfigException($"--hosts names {hosts.Count} host(s) for {nodes} nodes; give one per node");
        if (hosts?.FirstOrDefault(h => string.IsNullOrWhiteSpace(h) || h.Contains('/') || h.Contains(' ')) is { } badHost)
            throw new ClusterConfigException($"--hosts: '{badHost}' is not a host name or address");
        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);
        var clusterPath = Path.Combine(directory, "cluster.json");
        var nodePaths = Enumerable.Range(1, nodes).Select(i => Path.Combine(directory, $"node{i}.json")).ToList();
        foreach (var path in nodePaths.Append(clusterPath))
            if (File.Exists(path)) throw new ClusterConfigException($"{path} already exists; not overwriting a configuration (and its keys)");

        using var client = Ed25519SigningKey.Generate();
        var clientPublic = Convert.ToBase64String(client.PublicKey);
        var certificates = Enumerable.Range(0, nodes).Select(_ => new NetMQCertificate()).ToList();
        static string Bracketed(string h) => h.Contains(':') && !h.StartsWith('[') ? $"[{h}]" : h;
        string Endpoint(string h, int i) => string.Create(CultureInfo.InvariantCulture, $"tcp://{Bracketed(h)}:{basePort + i}");
        var endpoints = Enumerable.Range(0, nodes).Select(i => Endpoint(hosts?[i] ?? host, i)).ToList();
        var listens = Enumerable.Range(0, nodes).Select(i => Endpoint(listenAddress ?? (hosts is null ? host : "0.0.0.0"), i)).ToList();
        foreach (var endpoint in endpoints.Concat(listens)) Endpoints.Check(endpoint, "genconfig");
        for (int i = 0; i < nodes; i++)
        {
            int id = i + 1;
            WritePassphrase(Path.Combine(directory, $"node{id}.pass"));
            var file = new NodeConfigFile
            {
                NodeId = id,
                Listen = [listens[i]],
                CurveSecretKey = certificates[i].SecretKeyZ85!,
                CurvePublicKey = certificates[i].PublicKeyZ85,
                AllowedClients = [clientPublic],
                Store = $"node{id}.store",
                PassphraseFile = $"node{id}.pass",
                Peers = Enumerable.Range(0, nodes).Where(j => j != i).Select(j => new NodePeer(j + 1, certificates[j].PublicKeyZ85)).ToList(),
                Limits = limits ?? new NodeLimits(),
            };
            ConfigJson.Write(nodePaths[i], file);
        }
        var seed = client.ExportSeed();
        try
        {
            ConfigJson.Write(clusterPath, new ClusterConfigFile
            {
                Threshold = threshold,
                Nodes = Enumerable.Range(0, nodes).Select(i => new ClusterNodeEntry(i + 1, endpoints[i], certificates[i].PublicKeyZ85)).ToList(),
                ClientSecretKey = Convert.ToBase64String(seed),
                ClientPublicKey = clientPublic,
            });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
        return new GeneratedCluster(clusterPath, nodePaths, clientPublic);
    }

    /// <summary>
    /// Writes one node's configuration (a fresh CURVE key pair), its passphrase file beside it (OUT without extension +
    /// ".pass") and names its store (+ ".store"). Returns the node's CURVE public key, which the client's cluster.json needs.
    /// </summary>
    public static string InitNode(string outPath, int nodeId, IReadOnlyList<string> listen, IReadOnlyList<string> allowedClients)
    {
        outPath = Path.GetFullPath(outPath);
        if (File.Exists(outPath)) throw new ClusterConfigException($"{outPath} already exists; not overwriting a configuration (and its keys)");
        if (nodeId is < 1 or > ProtocolConstants.MaxNodeId) throw new ClusterConfigException($"--id {nodeId} must be 1..{ProtocolConstants.MaxNodeId}");
        foreach (var endpoint in listen) Endpoints.Check(endpoint, "--listen");
        for (int i = 0; i < allowedClients.Count; i++) KeyText.Ed25519Key(allowedClients[i], "--allow-client");
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        var baseName = Path.GetFileNameWithoutExtension(outPath);
        var certificate = new NetMQCertificate();
        WritePassphrase(Path.Combine(Path.GetDirectoryName(outPath)!, baseName + ".pass"));
        ConfigJson.Write(outPath, new NodeConfigFile
        {
            NodeId = nodeId,
            Listen = listen.Count > 0 ? [.. listen] : [$"tcp://127.0.0.1:{DefaultBasePort + nodeId - 1}"],
            CurveSecretKey = certificate.SecretKeyZ85!,
            CurvePublicKey = certificate.PublicKeyZ85,
            AllowedClients = [.. allowedClients],
            Store = baseName + ".store",
            PassphraseFile = baseName + ".pass",
        });
        return certificate.PublicKeyZ85;
    }

    private static void WritePassphrase(string path)
    {
        if (File.Exists(path)) throw new ClusterConfigException($"{path} already exists; not overwriting a passphrase (it may protect a share store)");
        AtomicFile.WriteText(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
