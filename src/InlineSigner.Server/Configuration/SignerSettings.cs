using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using InlineSigner.Authority;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Protocol;
using InlineSigner.Zones.Text;

namespace InlineSigner.Server.Configuration;

/// <summary>The configuration cannot be used; the message names the setting and what is wrong with it.</summary>
public sealed class SignerConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>How the signed SOA serial follows the unsigned one (as BIND's serial-update-method and Knot's serial-policy).</summary>
public enum SerialPolicyKind
{
    /// <summary>The unsigned serial, as long as it moves; a refresh without an upstream change must still step it (logged).</summary>
    Keep,
    /// <summary>max(unsigned, last signed + 1).</summary>
    Increment,
    /// <summary>max(now in Unix seconds, last signed + 1).</summary>
    UnixTime,
    /// <summary>max(YYYYMMDD00 of today, last signed + 1).</summary>
    DateSerial,
}

/// <summary>Where a zone's unsigned data comes from.</summary>
public abstract record ZoneSource;

/// <summary>A hidden primary we are the secondary of.</summary>
public sealed record PrimarySource(IPEndPoint Endpoint, TsigKey? Key) : ZoneSource
{
    public override string ToString() => $"primary {Endpoint}{(Key is null ? "" : $" (TSIG {Key.Name})")}";
}

/// <summary>A master file, watched for changes.</summary>
public sealed record FileSource(string Path) : ZoneSource
{
    public override string ToString() => $"file {Path}";
}

/// <summary>One zone's checked settings.</summary>
public sealed record ZoneSettings(
    DomainName Origin,
    ZoneSource Source,
    IReadOnlyList<IPEndPoint> Notify,
    TsigKey? NotifyKey,
    TransferAcl TransferAcl,
    SigningPolicy Policy,
    SerialPolicyKind SerialPolicy,
    IReadOnlyList<string> KeyIds,
    int RefreshBatch,
    ARSoft.Tools.Net.Dns.DnsSecAlgorithm? GenerateKeys = null)
{
    public string Name => PresentationFormat.FormatName(Origin);
}

/// <summary>
/// <see cref="SignerOptions"/> checked and resolved: endpoints parsed (names resolved once, at start-up), paths made
/// absolute against the configuration's base directory, TSIG keys loaded, policies built. Every problem is a
/// <see cref="SignerConfigurationException"/> before anything starts.
/// </summary>
public sealed class SignerSettings
{
    private SignerSettings() { }

    public required string DataDirectory { get; init; }
    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    public IPEndPoint? Metrics { get; init; }
    public IPEndPoint? Control { get; init; }
    public string? ClusterConfig { get; init; }
    public string? KeyDirectory { get; init; }
    public required IReadOnlyDictionary<DomainName, TsigKey> TsigKeys { get; init; }
    public required IReadOnlyList<ZoneSettings> Zones { get; init; }
    public IReadOnlyList<string> LocalNodeConfigs { get; init; } = [];

    public string DatabasePath => System.IO.Path.Combine(DataDirectory, "signer.db");

    public static SignerSettings From(SignerOptions options, string baseDirectory)
    {
        string Resolve(string path) => System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(path) ? path : System.IO.Path.Combine(baseDirectory, path));

        if (options.Listen.Count == 0) throw new SignerConfigurationException("Signer:Listen is empty: give at least one address:port to serve the signed zones on");
        var listen = options.Listen.Select((l, i) => Endpoint(l, $"Signer:Listen:{i}")).ToList();
        if ((options.Cluster is null) == (options.KeyDirectory is null))
            throw new SignerConfigurationException("give exactly one of Signer:Cluster (a cluster.json: threshold keys) or Signer:KeyDirectory (local BIND-format keys)");
        var keys = new Dictionary<DomainName, TsigKey>();
        for (int i = 0; i < options.TsigKeys.Count; i++)
        {
            foreach (var key in LoadTsig(options.TsigKeys[i], $"Signer:TsigKeys:{i}", Resolve))
                if (!keys.TryAdd(key.Name, key)) throw new SignerConfigurationException($"Signer:TsigKeys:{i}: TSIG key {key.Name} is defined twice");
        }
        if (options.Zones.Count == 0) throw new SignerConfigurationException("Signer:Zones is empty: configure at least one zone (Name and Primary or ZoneFile)");
        var zones = new List<ZoneSettings>();
        for (int i = 0; i < options.Zones.Count; i++) zones.Add(Zone(options.Zones[i], $"Signer:Zones:{i}", keys, Resolve));
        var duplicate = zones.GroupBy(z => z.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new SignerConfigurationException($"Signer:Zones: zone {duplicate.Key} is configured twice");
        var control = string.IsNullOrWhiteSpace(options.Control) ? null : Endpoint(options.Control, "Signer:Control");
        if (control is not null && !IPAddress.IsLoopback(control.Address))
            throw new SignerConfigurationException($"Signer:Control {options.Control}: the control endpoint has no authentication and must be on a loopback address");
        return new SignerSettings
        {
            DataDirectory = Resolve(options.DataDirectory),
            Listen = listen,
            Metrics = string.IsNullOrWhiteSpace(options.Metrics) ? null : Endpoint(options.Metrics, "Signer:Metrics"),
            Control = control,
            ClusterConfig = options.Cluster is null ? null : Resolve(options.Cluster),
            KeyDirectory = options.KeyDirectory is null ? null : Resolve(options.KeyDirectory),
            TsigKeys = keys,
            Zones = zones,
            LocalNodeConfigs = options.LocalNodes?.NodeConfigs.Select(Resolve).ToList() ?? [],
        };
    }

    private static IEnumerable<TsigKey> LoadTsig(TsigKeyOptions options, string where, Func<string, string> resolve)
    {
        try
        {
            if (options.File is { } file)
            {
                var path = resolve(file);
                if (!File.Exists(path)) throw new SignerConfigurationException($"{where}: TSIG key file {path} does not exist");
                var parsed = TsigKey.ParseBindKeys(File.ReadAllText(path));
                if (options.Name.Length > 0) parsed = parsed.Where(k => k.HasName(DomainName.Parse(options.Name))).ToList();
                if (parsed.Count == 0) throw new SignerConfigurationException($"{where}: {path} holds no key {options.Name}");
                return parsed;
            }
            if (options.Name.Length == 0 || options.Algorithm is null || options.Secret is null)
                throw new SignerConfigurationException($"{where}: a TSIG key needs Name, Algorithm and Secret (base64), or File");
            return [TsigKey.Parse($"{options.Algorithm}:{options.Name}:{options.Secret}")];
        }
        catch (TsigKeyFormatException e)
        {
            throw new SignerConfigurationException($"{where}: {e.Message}", e);
        }
    }

    private static ZoneSettings Zone(ZoneOptions options, string where, IReadOnlyDictionary<DomainName, TsigKey> keys, Func<string, string> resolve)
    {
        if (string.IsNullOrWhiteSpace(options.Name)) throw new SignerConfigurationException($"{where}:Name is missing");
        DomainName origin;
        try { origin = PresentationFormat.ParseName(options.Name.EndsWith('.') ? options.Name : options.Name + ".", null); }
        catch (FormatException e) { throw new SignerConfigurationException($"{where}:Name '{options.Name}': {e.Message}", e); }
        where = $"{where} ({PresentationFormat.FormatName(origin)})";

        TsigKey? Key(string? name, string field)
        {
            if (string.IsNullOrWhiteSpace(name)) return null;
            return keys.GetValueOrDefault(DomainName.Parse(name)) ?? throw new SignerConfigurationException($"{where}:{field}: no TSIG key {name} in Signer:TsigKeys");
        }

        ZoneSource source = (options.Primary, options.ZoneFile) switch
        {
            ({ } primary, null) => new PrimarySource(Endpoint(primary, $"{where}:Primary"), Key(options.PrimaryTsigKey, "PrimaryTsigKey")),
            (null, { } file) => new FileSource(resolve(file)),
            _ => throw new SignerConfigurationException($"{where}: give exactly one of Primary (address:port of the hidden primary) or ZoneFile"),
        };
        if (source is FileSource { Path: var path } && !File.Exists(path)) throw new SignerConfigurationException($"{where}:ZoneFile {path} does not exist");

        Nsec3Settings? nsec3 = null;
        if (options.Nsec3 || options.Nsec3OptOut || options.Nsec3Salt is not null || options.Nsec3Iterations != 0)
        {
            if (options.Nsec3Iterations is < 0 or > 65535) throw new SignerConfigurationException($"{where}:Nsec3Iterations must be 0..65535 (RFC 9276 recommends 0)");
            byte[]? salt = null;
            if (!string.IsNullOrEmpty(options.Nsec3Salt) && options.Nsec3Salt != "-")
            {
                try { salt = Convert.FromHexString(options.Nsec3Salt); }
                catch (FormatException) { throw new SignerConfigurationException($"{where}:Nsec3Salt '{options.Nsec3Salt}' is not hex"); }
                if (salt.Length > 255) throw new SignerConfigurationException($"{where}:Nsec3Salt is longer than 255 octets");
            }
            nsec3 = new Nsec3Settings((ushort)options.Nsec3Iterations, salt, options.Nsec3OptOut);
        }
        List<byte> zonemd;
        try { zonemd = options.ZoneMd.Select(ZoneMd.ParseAlgorithm).Distinct().ToList(); }
        catch (Exception e) when (e is ArgumentException or FormatException) { throw new SignerConfigurationException($"{where}:ZoneMd: {e.Message}", e); }
        TimeSpan? Period(string? text, string field, bool zeroAllowed = false)
        {
            if (text is null) return null;
            if (!PresentationFormat.TryParsePeriod(text, out var seconds) || seconds < 0 || (seconds == 0 && !zeroAllowed))
                throw new SignerConfigurationException($"{where}:{field} '{text}' is not a period such as 30d, 12h or 3600");
            return TimeSpan.FromSeconds(seconds);
        }
        var defaults = new SignatureSchedule();
        var schedule = defaults with
        {
            Validity = Period(options.SignatureValidity, "SignatureValidity") ?? defaults.Validity,
            Refresh = Period(options.SignatureRefresh, "SignatureRefresh") ?? defaults.Refresh,
            Jitter = Period(options.SignatureJitter, "SignatureJitter", zeroAllowed: true) ?? defaults.Jitter,
        };
        if (schedule.Refresh >= schedule.Validity)
            throw new SignerConfigurationException($"{where}: SignatureRefresh must be shorter than SignatureValidity");
        var serial = options.SerialPolicy.ToLowerInvariant() switch
        {
            "keep" => SerialPolicyKind.Keep,
            "increment" => SerialPolicyKind.Increment,
            "unixtime" => SerialPolicyKind.UnixTime,
            "dateserial" => SerialPolicyKind.DateSerial,
            _ => throw new SignerConfigurationException($"{where}:SerialPolicy '{options.SerialPolicy}' is not one of keep, increment, unixtime, dateserial"),
        };
        if (options.RefreshBatch < 1) throw new SignerConfigurationException($"{where}:RefreshBatch must be at least 1");
        var acl = Acl(options, where, keys);
        ARSoft.Tools.Net.Dns.DnsSecAlgorithm? generate = null;
        if (!string.IsNullOrWhiteSpace(options.GenerateKeys))
        {
            try { generate = Dnssec.Keys.DnssecAlgorithms.Parse(options.GenerateKeys); }
            catch (ArgumentException e) { throw new SignerConfigurationException($"{where}:GenerateKeys: {e.Message}", e); }
            if (generate is not (ARSoft.Tools.Net.Dns.DnsSecAlgorithm.Ed25519 or ARSoft.Tools.Net.Dns.DnsSecAlgorithm.RsaSha256 or ARSoft.Tools.Net.Dns.DnsSecAlgorithm.RsaSha512))
                throw new SignerConfigurationException($"{where}:GenerateKeys: the cluster makes ED25519, RSASHA256 or RSASHA512 keys, not {options.GenerateKeys}");
        }
        return new ZoneSettings(origin, source, options.Notify.Select((n, i) => Endpoint(n, $"{where}:Notify:{i}")).ToList(), Key(options.NotifyTsigKey, "NotifyTsigKey"),
            acl, new SigningPolicy { Nsec3 = nsec3, ZoneMdAlgorithms = zonemd, Schedule = schedule }, serial, options.KeyIds.ToList(), options.RefreshBatch, generate);
    }

    private static TransferAcl Acl(ZoneOptions options, string where, IReadOnlyDictionary<DomainName, TsigKey> keys)
    {
        foreach (var name in options.AllowTransferKeys)
            if (!keys.ContainsKey(DomainName.Parse(name))) throw new SignerConfigurationException($"{where}:AllowTransferKeys: no TSIG key {name} in Signer:TsigKeys");
        try
        {
            return TransferAcl.Parse(options.AllowTransfer, options.AllowTransferKeys);
        }
        catch (FormatException e)
        {
            throw new SignerConfigurationException($"{where}:AllowTransfer: {e.Message}", e);
        }
    }

    /// <summary>"address:port", "[v6]:port" or "name:port" (resolved now, once).</summary>
    public static IPEndPoint Endpoint(string text, string where)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port != 0) return endpoint;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new SignerConfigurationException($"{where}: '{text}' is not address:port (e.g. 127.0.0.1:5353, [::1]:5353 or primary.example:53)");
        var host = text[..colon].Trim('[', ']');
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new SignerConfigurationException($"{where}: {host} has no address");
            return new IPEndPoint(chosen, port);
        }
        catch (SocketException e)
        {
            throw new SignerConfigurationException($"{where}: cannot resolve {host}: {e.Message}", e);
        }
    }
}
