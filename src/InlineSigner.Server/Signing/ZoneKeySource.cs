using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Keys;
using InlineSigner.Dnssec;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Server.Configuration;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Signing;

/// <summary>
/// The signing keys of each zone: threshold keys of the cluster (the key store beside cluster.json says which belong to
/// a zone), or local BIND-format keys from a directory. Read again on every call, so keys added with `keys generate`
/// (or a config reload) are picked up by the next signing run; a key change is then a full re-sign with an exact delta.
/// </summary>
public sealed class ZoneKeySource : IDisposable
{
    private readonly SignerSettings _settings;
    private readonly Dictionary<ARSoft.Tools.Net.DomainName, (string Fingerprint, IReadOnlyList<LocalKey> Keys)> _localKeys = new(Zones.CanonicalNameComparer.Instance);
    private readonly object _gate = new();

    public ZoneKeySource(SignerSettings settings, ILogger logger)
    {
        _settings = settings;
        if (settings.ClusterConfig is { } cluster) Client = ClusterClient.Create(cluster, logger);
    }

    /// <summary>The cluster client (null with local keys): its health feeds the metrics.</summary>
    public ClusterClient? Client { get; }

    /// <summary>The zone's keys; a <see cref="SignerConfigurationException"/> when it has none.</summary>
    public ZoneKeys KeysFor(ZoneSettings zone)
    {
        IReadOnlyList<ISigner> signers;
        if (Client is not null)
        {
            var manager = new ClusterKeyManager(Client);
            if (zone.KeyIds.Count > 0)
            {
                signers = zone.KeyIds.Select(id => (ISigner)(manager.KeyStore.Find(id) is { } record
                    ? new ClusterSigner(Client, record)
                    : throw new SignerConfigurationException($"zone {zone.Name}: key {id} is not in the key store {manager.KeyStore.Path}"))).ToList();
            }
            else
            {
                signers = manager.SignersForZone(zone.Name);
            }
            if (signers.Count == 0)
                throw new SignerConfigurationException($"zone {zone.Name}: the key store {manager.KeyStore.Path} has no keys for it; run `inline-signer keys generate --cluster {_settings.ClusterConfig} --zone {zone.Name.TrimEnd('.')} --algorithm ed25519 --ksk` (and a ZSK)");
        }
        else
        {
            signers = LocalKeysFor(zone);
        }
        return new ZoneKeys(signers);
    }

    /// <summary>
    /// The zone's key files, loaded again only when the directory's key files change (a zone's operations run one at a
    /// time, so keys replaced here are no longer in use).
    /// </summary>
    private IReadOnlyList<LocalKey> LocalKeysFor(ZoneSettings zone)
    {
        var directory = _settings.KeyDirectory!;
        var fingerprint = string.Join("|", Directory.Exists(directory)
            ? Directory.GetFiles(directory, "K*").Order(StringComparer.Ordinal).Select(f => $"{f}@{File.GetLastWriteTimeUtc(f).Ticks}")
            : []);
        lock (_gate)
        {
            if (_localKeys.TryGetValue(zone.Origin, out var cached) && cached.Fingerprint == fingerprint) return cached.Keys;
            var loaded = KeyDirectory.Load(directory, zone.Origin);
            if (loaded.Count == 0)
                throw new SignerConfigurationException($"zone {zone.Name}: no keys for it in {directory}; run `inline-signer keys generate --dir {directory} --zone {zone.Name.TrimEnd('.')} …`");
            if (cached.Keys is not null) foreach (var key in cached.Keys) key.Dispose();
            _localKeys[zone.Origin] = (fingerprint, loaded);
            return loaded;
        }
    }

    public void Dispose()
    {
        Client?.Dispose();
        lock (_gate)
        {
            foreach (var (_, keys) in _localKeys.Values) foreach (var key in keys) key.Dispose();
            _localKeys.Clear();
        }
    }
}
