using System.Text.Json;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Cluster.Protocol;
using InlineSigner.Threshold;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;

namespace InlineSigner.Cluster.Keys;

/// <summary>
/// The public facts about one cluster key, as recorded beside cluster.json: enough to publish its DNSKEY (and DS), to
/// pick it for a zone (KSK/ZSK by flags) and to check and combine the nodes' shares — nothing secret.
/// </summary>
public sealed record ClusterKeyRecord
{
    public required string KeyId { get; init; }

    /// <summary>Zone name in presentation form with the trailing dot.</summary>
    public required string Zone { get; init; }

    /// <summary>DNSSEC algorithm number (8, 10 or 15).</summary>
    public required int Algorithm { get; init; }

    /// <summary>DNSKEY flags: 257 for a KSK, 256 for a ZSK.</summary>
    public required int Flags { get; init; }

    public required int KeyTag { get; init; }
    public required KeyScheme Scheme { get; init; }
    public required int Threshold { get; init; }
    public required int Parties { get; init; }

    /// <summary>The DNSKEY public key field, base64 (as in the DNSKEY's presentation form).</summary>
    public required string PublicKey { get; init; }

    /// <summary>The threshold public key with every party's verification key, base64 of its binary encoding.</summary>
    public required string ThresholdPublicKey { get; init; }

    public required DateTimeOffset Created { get; init; }

    public bool IsKsk => (Flags & 1) == 1;

    public DnsSecAlgorithm DnsAlgorithm => (DnsSecAlgorithm)Algorithm;

    public DomainName ZoneName => DomainName.Parse(Zone);

    public DnsKeyRecord ToDnsKey(int ttl = 3600) =>
        new(ZoneName, RecordClass.INet, ttl, (DnsKeyFlags)Flags, 3, DnsAlgorithm, Convert.FromBase64String(PublicKey), null);

    public ThresholdRsaPublicKey RsaPublicKey() => Scheme == KeyScheme.ShoupRsa
        ? ThresholdRsaPublicKey.Decode(Convert.FromBase64String(ThresholdPublicKey))
        : throw new InvalidOperationException($"key {KeyId} is not a threshold RSA key");

    public FrostPublicKey FrostPublicKey() => Scheme == KeyScheme.FrostEd25519
        ? FrostKeyCodec.DecodePublicKey(Convert.FromBase64String(ThresholdPublicKey))
        : throw new InvalidOperationException($"key {KeyId} is not a FROST key");

    /// <summary>The coordinator's side of this key, whatever its scheme (see <see cref="ThresholdSchemes"/>).</summary>
    public IThresholdCoordinator Coordinator() => ThresholdSchemes.Coordinator(Scheme, Algorithm, Convert.FromBase64String(ThresholdPublicKey));
}

/// <summary>
/// The client's key store (keys.json beside cluster.json): the public metadata of every key the cluster holds.
/// Written atomically; read fresh on every call, so several commands may use it one after another.
/// </summary>
public sealed class ClientKeyStore(string path)
{
    private sealed record FileShape(List<ClusterKeyRecord> Keys);

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public IReadOnlyList<ClusterKeyRecord> Load()
    {
        if (!File.Exists(Path)) return [];
        try
        {
            var shape = JsonSerializer.Deserialize<FileShape>(File.ReadAllText(Path), ConfigJson.Options);
            var keys = shape?.Keys ?? [];
            var duplicate = keys.GroupBy(k => k.KeyId).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw new ClusterConfigException($"key store {Path}: key id {duplicate.Key} appears twice");
            return keys;
        }
        catch (JsonException e)
        {
            throw new ClusterConfigException($"key store {Path}: {e.Message}", e);
        }
    }

    public ClusterKeyRecord? Find(string keyId) => Load().FirstOrDefault(k => k.KeyId == keyId);

    /// <summary>The keys recorded for <paramref name="zone"/> (compared case-insensitively, trailing dot optional).</summary>
    public IReadOnlyList<ClusterKeyRecord> ForZone(string zone)
    {
        var wanted = Normalise(zone);
        return Load().Where(k => Normalise(k.Zone) == wanted).ToList();
    }

    public void Add(ClusterKeyRecord record)
    {
        var keys = Load().ToList();
        if (keys.Any(k => k.KeyId == record.KeyId)) throw new ClusterConfigException($"key store {Path}: key id {record.KeyId} already exists");
        keys.Add(record);
        Save(keys);
    }

    public bool Remove(string keyId)
    {
        var keys = Load().ToList();
        int removed = keys.RemoveAll(k => k.KeyId == keyId);
        if (removed > 0) Save(keys);
        return removed > 0;
    }

    private void Save(List<ClusterKeyRecord> keys)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        Node.AtomicFile.WriteText(Path, JsonSerializer.Serialize(new FileShape(keys), ConfigJson.Options) + "\n",
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>A zone name as compared here: lower case, one trailing dot.</summary>
    public static string Normalise(string zone) => zone.TrimEnd('.').ToLowerInvariant() + ".";
}
