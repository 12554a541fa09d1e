using InlineSigner.Cluster.Crypto;
using InlineSigner.Cluster.Node;

namespace InlineSigner.Cluster.Client;

/// <summary>A node as the client knows it: its id (= share index), endpoint and pinned CURVE public key.</summary>
public sealed record ClusterNodeEntry(int Id, string Endpoint, string CurvePublicKey);

/// <summary>
/// The client's cluster.json. Paths are relative to the file. Holds the client's Ed25519 secret key (base64 of the
/// 32-byte seed), so it is written with mode 0600.
/// </summary>
public sealed record ClusterConfigFile
{
    public int Threshold { get; init; }
    public List<ClusterNodeEntry> Nodes { get; init; } = [];
    public string ClientSecretKey { get; init; } = "";
    public string? ClientPublicKey { get; init; }

    /// <summary>The client-side key store (public metadata of every cluster key), beside this file by default.</summary>
    public string KeyStore { get; init; } = "keys.json";

    /// <summary>A signing batch that has not gathered t valid shares by then fails, naming the nodes and why.</summary>
    public int RequestTimeoutMs { get; init; } = 20_000;

    /// <summary>A node that has not answered after this long (or four times its usual time) gets a spare sent the same work.</summary>
    public int HedgeAfterMs { get; init; } = 500;

    /// <summary>How often every node is pinged (health, and probing nodes that were down or bad).</summary>
    public int ProbeIntervalMs { get; init; } = 2_000;

    /// <summary>How long a node that returned a bad share is kept out of the first choice.</summary>
    public int BadNodePenaltyMs { get; init; } = 60_000;

    /// <summary>Nodes beyond t sent every batch from the start (0: only t, spares on failure or slowness).</summary>
    public int Spares { get; init; }

    public int MaxInFlightBatches { get; init; } = 8;
    public int MinBatch { get; init; } = 4;
    public int MaxBatch { get; init; } = 1000;

    /// <summary>Batches are sized so a node takes about this long for one.</summary>
    public int TargetBatchMs { get; init; } = 100;
}

/// <summary>cluster.json read and checked at startup: every problem is a <see cref="ClusterConfigException"/> naming the field.</summary>
public sealed class ClusterConfig
{
    private ClusterConfig(ClusterConfigFile file, string path, IReadOnlyDictionary<int, byte[]> nodeKeys, byte[] clientSeed)
    {
        File = file;
        ConfigPath = path;
        NodeCurveKeys = nodeKeys;
        ClientSeed = clientSeed;
    }

    public ClusterConfigFile File { get; }
    public string ConfigPath { get; }
    public int Threshold => File.Threshold;
    public IReadOnlyList<ClusterNodeEntry> Nodes => File.Nodes;
    public IReadOnlyDictionary<int, byte[]> NodeCurveKeys { get; }
    internal byte[] ClientSeed { get; }
    public string KeyStorePath => ConfigJson.ResolvePath(ConfigPath, File.KeyStore);

    public static ClusterConfig Load(string path)
    {
        path = Path.GetFullPath(path);
        return FromFile(ConfigJson.Read<ClusterConfigFile>(path, "cluster configuration"), path);
    }

    public static ClusterConfig FromFile(ClusterConfigFile file, string path)
    {
        string where = $"cluster configuration {path}";
        int n = file.Nodes.Count;
        if (n == 0) throw new ClusterConfigException($"{where}: nodes is empty");
        if (file.Threshold < 1) throw new ClusterConfigException($"{where}: threshold {file.Threshold} must be at least 1");
        if (n < file.Threshold) throw new ClusterConfigException($"{where}: {n} nodes cannot meet threshold {file.Threshold} (need n >= t)");
        if (n > ProtocolConstants.MaxNodeId) throw new ClusterConfigException($"{where}: at most {ProtocolConstants.MaxNodeId} nodes");
        var keys = new Dictionary<int, byte[]>();
        var endpoints = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var node in file.Nodes)
        {
            if (node.Id < 1 || node.Id > n) throw new ClusterConfigException($"{where}: node id {node.Id} must be 1..{n} (ids are share indexes)");
            Endpoints.Check(node.Endpoint, $"{where}: node {node.Id} endpoint");
            if (!endpoints.Add(node.Endpoint)) throw new ClusterConfigException($"{where}: endpoint {node.Endpoint} is used by two nodes");
            if (!keys.TryAdd(node.Id, KeyText.CurvePublicKey(node.CurvePublicKey, $"{where}: node {node.Id} curvePublicKey")))
                throw new ClusterConfigException($"{where}: node id {node.Id} appears twice");
        }
        if (keys.Values.Select(Convert.ToBase64String).Distinct().Count() != n) throw new ClusterConfigException($"{where}: two nodes have the same CURVE public key");
        var seed = KeyText.Ed25519Key(file.ClientSecretKey, $"{where}: clientSecretKey");
        if (file.ClientPublicKey is not null)
        {
            using var key = Ed25519SigningKey.FromSeed(seed);
            if (Convert.ToBase64String(key.PublicKey) != file.ClientPublicKey) throw new ClusterConfigException($"{where}: clientPublicKey does not belong to clientSecretKey");
        }
        Positive(file.RequestTimeoutMs, "requestTimeoutMs", 100);
        Positive(file.HedgeAfterMs, "hedgeAfterMs", 1);
        Positive(file.ProbeIntervalMs, "probeIntervalMs", 50);
        Positive(file.BadNodePenaltyMs, "badNodePenaltyMs", 0);
        Positive(file.MaxInFlightBatches, "maxInFlightBatches", 1);
        Positive(file.MinBatch, "minBatch", 1);
        Positive(file.TargetBatchMs, "targetBatchMs", 1);
        if (file.MaxBatch < file.MinBatch || file.MaxBatch > Protocol.ProtocolLimits.MaxBatchItems)
            throw new ClusterConfigException($"{where}: maxBatch must be minBatch..{Protocol.ProtocolLimits.MaxBatchItems}");
        if (file.Spares < 0 || file.Spares > n - file.Threshold) throw new ClusterConfigException($"{where}: spares must be 0..{n - file.Threshold} (n - t)");
        return new ClusterConfig(file, path, keys, seed);

        void Positive(int value, string name, int min)
        {
            if (value < min) throw new ClusterConfigException($"{where}: {name} must be at least {min}");
        }
    }
}
