using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Node;
using InlineSigner.Tests.Shared;
using InlineSigner.Threshold.Rsa;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InlineSigner.Cluster.Tests;

/// <summary>
/// A whole cluster on 127.0.0.1 inside the test process: configurations written by <see cref="ClusterSetup"/> (as
/// `node genconfig` does) on free ports, each node a real <see cref="NodeServer"/> with its encrypted share store,
/// reached over CURVE sockets like any other. Nodes can be stopped, restarted and made to lie.
/// </summary>
internal sealed class LocalCluster : IDisposable
{
    private readonly NodeServer?[] _servers;
    private readonly ShareStore?[] _stores;

    private LocalCluster(TempDirectory directory, GeneratedCluster generated, int n)
    {
        Directory = directory;
        Generated = generated;
        _servers = new NodeServer?[n + 1];
        _stores = new ShareStore?[n + 1];
    }

    public TempDirectory Directory { get; }
    public GeneratedCluster Generated { get; }
    public int Parties => _servers.Length - 1;

    public static LocalCluster Start(int n, int t, params int[] lyingNodes) => Start(n, t, null, lyingNodes);

    /// <summary>Like <see cref="Start(int, int, int[])"/>, with every node's configuration file changed by <paramref name="configure"/> first.</summary>
    public static LocalCluster Start(int n, int t, Func<NodeConfigFile, NodeConfigFile>? configure, params int[] lyingNodes) =>
        Start(n, t, "127.0.0.1", configure, lyingNodes);

    /// <summary>A cluster whose nodes listen on, and are reached at, <paramref name="host"/> (e.g. "::1").</summary>
    public static LocalCluster Start(int n, int t, string host, Func<NodeConfigFile, NodeConfigFile>? configure, params int[] lyingNodes)
    {
        var directory = new TempDirectory("inline-signer-cluster-");
        var ports = FreePorts.GetRange(n);
        var generated = ClusterSetup.GenerateCluster(directory.Path, n, t, ports[0], host);
        if (configure is not null)
            foreach (var path in generated.NodeConfigPaths)
            {
                var options = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web) { WriteIndented = true };
                var file = System.Text.Json.JsonSerializer.Deserialize<NodeConfigFile>(File.ReadAllText(path), options)!;
                File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(configure(file), options));
            }
        var cluster = new LocalCluster(directory, generated, n);
        for (int id = 1; id <= n; id++) cluster.StartNode(id, lyingNodes.Contains(id));
        return cluster;
    }

    public NodeServer Server(int id) => _servers[id] ?? throw new InvalidOperationException($"node {id} is stopped");

    public ShareStore Store(int id) => _stores[id] ?? throw new InvalidOperationException($"node {id} is stopped");

    public NodeConfig NodeConfig(int id) => Node.NodeConfig.Load(Generated.NodeConfigPaths[id - 1]);

    public void StartNode(int id, bool lying = false) => StartNode(id, lying ? new CorruptingFaults() : null);

    /// <summary>Starts node <paramref name="id"/> misbehaving as <paramref name="faults"/> says (null: honest).</summary>
    internal void StartNode(int id, INodeFaults? faults)
    {
        if (_servers[id] is not null) throw new InvalidOperationException($"node {id} is running");
        var config = NodeConfig(id);
        var passphrase = config.ReadPassphrase();
        // Few KDF iterations: a test store protects nothing, and every test opens several.
        var store = ShareStore.Open(config.StorePath, passphrase, kdfIterationsForNewStore: 10_000);
        var server = new NodeServer(config, store, NullLogger.Instance, null, faults);
        server.Start();
        _stores[id] = store;
        _servers[id] = server;
    }

    public void StopNode(int id)
    {
        _servers[id]?.Dispose();
        _stores[id]?.Dispose();
        _servers[id] = null;
        _stores[id] = null;
    }

    /// <summary>A client of this cluster, with timeouts short enough for tests.</summary>
    public ClusterClient Client(int requestTimeoutMs = 15_000, ILogger? logger = null)
    {
        var loaded = ClusterConfig.Load(Generated.ClusterConfigPath);
        var file = loaded.File with { RequestTimeoutMs = requestTimeoutMs, ProbeIntervalMs = 200, HedgeAfterMs = 200 };
        return ClusterClient.Create(ClusterConfig.FromFile(file, Generated.ClusterConfigPath), logger);
    }

    public void Dispose()
    {
        for (int id = 1; id <= Parties; id++) StopNode(id);
        Directory.Dispose();
    }
}
