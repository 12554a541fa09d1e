using System.Text;
using InlineSigner.Cluster.Crypto;
using NetMQ;

namespace InlineSigner.Cluster.Node;

/// <summary>Resource limits of a node. Defaults suit a signer; every one is checked at startup.</summary>
public sealed record NodeLimits
{
    /// <summary>Largest request frame accepted (bytes); bigger ones get an Oversize error, far bigger ones a dropped connection.</summary>
    public int MaxRequestBytes { get; init; } = 16 << 20;

    /// <summary>Most signing inputs in one request.</summary>
    public int MaxBatchItems { get; init; } = 4096;

    /// <summary>How far a request's timestamp may be from the node's clock.</summary>
    public int ClockSkewSeconds { get; init; } = 30;

    /// <summary>Request ids remembered for replay detection (each for the clock-skew window).</summary>
    public int ReplayCacheSize { get; init; } = 200_000;

    /// <summary>Requests one connection may have waiting; more are dropped (and counted), so one client cannot starve others.</summary>
    public int MaxQueuedRequestsPerClient { get; init; } = 64;

    /// <summary>Signing threads; 0 means one per processor.</summary>
    public int Workers { get; init; }

    /// <summary>FROST nonces a node hands out per round-one request at most.</summary>
    public int MaxNoncesPerRequest { get; init; } = 4096;
}

/// <summary>A cluster peer as a node knows it: used to box distributed-key-generation shares for it.</summary>
public sealed record NodePeer(int NodeId, string CurvePublicKey);

/// <summary>
/// A dtcnode's configuration file (JSON). Paths are relative to the file. The file holds the node's CURVE secret key,
/// so it is written with mode 0600.
/// </summary>
public sealed record NodeConfigFile
{
    public int NodeId { get; init; }
    public List<string> Listen { get; init; } = [];
    public string CurveSecretKey { get; init; } = "";
    public string? CurvePublicKey { get; init; }
    public List<string> AllowedClients { get; init; } = [];
    public string Store { get; init; } = "";
    public string? PassphraseFile { get; init; }
    public string? PassphraseEnv { get; init; }
    public List<NodePeer>? Peers { get; init; }
    public NodeLimits Limits { get; init; } = new();
    public string LogLevel { get; init; } = "Information";
}

/// <summary>A node configuration read and checked: keys decoded, paths resolved, passphrase loaded.</summary>
public sealed class NodeConfig
{
    private NodeConfig(NodeConfigFile file, string path, NetMQCertificate certificate, IReadOnlyList<byte[]> allowed, string storePath,
        IReadOnlyDictionary<int, byte[]> peers)
    {
        File = file;
        ConfigPath = path;
        Certificate = certificate;
        AllowedClients = allowed;
        StorePath = storePath;
        PeerKeys = peers;
    }

    public NodeConfigFile File { get; }
    public string ConfigPath { get; }
    public int NodeId => File.NodeId;
    public NetMQCertificate Certificate { get; }
    public IReadOnlyList<byte[]> AllowedClients { get; }
    public string StorePath { get; }
    public NodeLimits Limits => File.Limits;

    /// <summary>Peers' CURVE public keys by node id, from the configuration (empty when none are configured).</summary>
    public IReadOnlyDictionary<int, byte[]> PeerKeys { get; }

    public static NodeConfig Load(string path)
    {
        path = Path.GetFullPath(path);
        var file = ConfigJson.Read<NodeConfigFile>(path, "node configuration");
        return FromFile(file, path);
    }

    public static NodeConfig FromFile(NodeConfigFile file, string path)
    {
        string where = $"node configuration {path}";
        if (file.NodeId is < 1 or > ProtocolConstants.MaxNodeId) throw new ClusterConfigException($"{where}: nodeId {file.NodeId} must be 1..{ProtocolConstants.MaxNodeId}");
        if (file.Listen.Count == 0) throw new ClusterConfigException($"{where}: listen needs at least one endpoint such as tcp://127.0.0.1:9701");
        foreach (var endpoint in file.Listen) Endpoints.Check(endpoint, $"{where}: listen");
        if (file.Listen.Distinct(StringComparer.OrdinalIgnoreCase).Count() != file.Listen.Count) throw new ClusterConfigException($"{where}: listen has duplicate endpoints");
        var certificate = KeyText.CurveCertificate(file.CurveSecretKey, $"{where}: curveSecretKey");
        if (file.CurvePublicKey is not null && file.CurvePublicKey != certificate.PublicKeyZ85)
            throw new ClusterConfigException($"{where}: curvePublicKey does not belong to curveSecretKey");
        if (file.AllowedClients.Count == 0) throw new ClusterConfigException($"{where}: allowedClients is empty, so no client could ever use this node");
        var allowed = file.AllowedClients.Select((k, i) => KeyText.Ed25519Key(k, $"{where}: allowedClients[{i}]")).ToList();
        if (string.IsNullOrWhiteSpace(file.Store)) throw new ClusterConfigException($"{where}: store (the share store file) is missing");
        if (file.PassphraseFile is null && file.PassphraseEnv is null) throw new ClusterConfigException($"{where}: give passphraseFile or passphraseEnv for the share store");
        var limits = file.Limits;
        if (limits.MaxRequestBytes < 4096) throw new ClusterConfigException($"{where}: limits.maxRequestBytes must be at least 4096");
        if (limits.MaxBatchItems is < 1 or > Protocol.ProtocolLimits.MaxBatchItems) throw new ClusterConfigException($"{where}: limits.maxBatchItems must be 1..{Protocol.ProtocolLimits.MaxBatchItems}");
        if (limits.ClockSkewSeconds is < 1 or > 3600) throw new ClusterConfigException($"{where}: limits.clockSkewSeconds must be 1..3600");
        if (limits.ReplayCacheSize < 1000) throw new ClusterConfigException($"{where}: limits.replayCacheSize must be at least 1000");
        if (limits.MaxQueuedRequestsPerClient < 1) throw new ClusterConfigException($"{where}: limits.maxQueuedRequestsPerClient must be at least 1");
        if (limits.Workers is < 0 or > 256) throw new ClusterConfigException($"{where}: limits.workers must be 0..256");
        if (limits.MaxNoncesPerRequest is < 1 or > Protocol.ProtocolLimits.MaxBatchItems) throw new ClusterConfigException($"{where}: limits.maxNoncesPerRequest must be 1..{Protocol.ProtocolLimits.MaxBatchItems}");
        var peers = new Dictionary<int, byte[]>();
        foreach (var peer in file.Peers ?? [])
        {
            if (peer.NodeId is < 1 or > ProtocolConstants.MaxNodeId) throw new ClusterConfigException($"{where}: peer nodeId {peer.NodeId} out of range");
            if (!peers.TryAdd(peer.NodeId, KeyText.CurvePublicKey(peer.CurvePublicKey, $"{where}: peers[{peer.NodeId}].curvePublicKey")))
                throw new ClusterConfigException($"{where}: peer {peer.NodeId} appears twice");
        }
        return new NodeConfig(file, path, certificate, allowed, ConfigJson.ResolvePath(path, file.Store), peers);
    }

    /// <summary>The share store passphrase from the configured file or environment variable (the caller zeroes it).</summary>
    public byte[] ReadPassphrase()
    {
        string where = $"node configuration {ConfigPath}";
        string? text;
        if (File.PassphraseEnv is { } variable)
        {
            text = Environment.GetEnvironmentVariable(variable);
            if (text is null && File.PassphraseFile is null) throw new ClusterConfigException($"{where}: environment variable {variable} (passphraseEnv) is not set");
            if (text is not null) return Passphrase(text, $"environment variable {variable}");
        }
        var passphrasePath = ConfigJson.ResolvePath(ConfigPath, File.PassphraseFile!);
        if (!System.IO.File.Exists(passphrasePath)) throw new ClusterConfigException($"{where}: passphrase file {passphrasePath} does not exist");
        if (!OperatingSystem.IsWindows() && (System.IO.File.GetUnixFileMode(passphrasePath) & (UnixFileMode.OtherRead | UnixFileMode.GroupRead)) != 0)
            throw new ClusterConfigException($"passphrase file {passphrasePath} is readable by group or others; chmod 600 it");
        text = System.IO.File.ReadAllText(passphrasePath);
        return Passphrase(text.TrimEnd('\r', '\n'), $"passphrase file {passphrasePath}");
    }

    private static byte[] Passphrase(string text, string source)
    {
        if (text.Length < 12) throw new ClusterConfigException($"{source}: the passphrase is shorter than 12 characters");
        return Encoding.UTF8.GetBytes(text);
    }
}

public static class ProtocolConstants
{
    /// <summary>Node ids are share indexes: 1..64 (the most parties a threshold key has here).</summary>
    public const int MaxNodeId = 64;
}

/// <summary>Endpoint checks shared by node and client configuration.</summary>
public static class Endpoints
{
    public static void Check(string endpoint, string where)
    {
        // tcp://host:port with an IPv4 address, [IPv6] or a name; NetMQ resolves names itself.
        if (!endpoint.StartsWith("tcp://", StringComparison.Ordinal)) throw new ClusterConfigException($"{where}: '{endpoint}' must start with tcp://");
        var rest = endpoint["tcp://".Length..];
        int colon = rest.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(rest[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new ClusterConfigException($"{where}: '{endpoint}' needs a port 1..65535 (tcp://host:port)");
        var host = rest[..colon];
        if (host.StartsWith('[') != host.EndsWith(']')) throw new ClusterConfigException($"{where}: '{endpoint}' has an unbalanced IPv6 bracket");
        if (host.StartsWith('[') && !System.Net.IPAddress.TryParse(host[1..^1], out _)) throw new ClusterConfigException($"{where}: '{host}' is not an IPv6 address");
    }

    /// <summary>True for an IPv6 endpoint (NetMQ sockets must then allow IPv6).</summary>
    public static bool IsIPv6(string endpoint) => endpoint.Contains('[', StringComparison.Ordinal) || endpoint.StartsWith("tcp://*", StringComparison.Ordinal);
}
