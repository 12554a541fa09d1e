namespace InlineSigner.Server.Configuration;

/// <summary>
/// The daemon's configuration, bound from the "Signer" section of the generic host's configuration: conf/*.json,
/// environment variables (INLINESIGNER_Signer__Listen__0=…) and the command line. <see cref="SignerSettings"/> checks
/// it and turns it into typed values; nothing here is trusted before that.
/// </summary>
public sealed class SignerOptions
{
    public const string Section = "Signer";

    /// <summary>Where the SQLite state lives (signer.db).</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>UDP+TCP listeners for the signed zones, "address:port" or "[v6]:port".</summary>
    public List<string> Listen { get; set; } = [];

    /// <summary>Prometheus /metrics (HTTP), "address:port"; empty disables it.</summary>
    public string? Metrics { get; set; }

    /// <summary>The local control endpoint that `inline-signer status` asks (HTTP, loopback only); empty disables it.</summary>
    public string? Control { get; set; }

    /// <summary>The client's cluster.json: threshold keys on dtcnodes. Exactly one of this and <see cref="KeyDirectory"/>.</summary>
    public string? Cluster { get; set; }

    /// <summary>BIND-format key files (local keys, for tests and migration).</summary>
    public string? KeyDirectory { get; set; }

    /// <summary>TSIG keys, referenced by name from zones (transfers in and out, NOTIFY).</summary>
    public List<TsigKeyOptions> TsigKeys { get; set; } = [];

    public List<ZoneOptions> Zones { get; set; } = [];

    /// <summary>Start this cluster's nodes as child processes (the embedded default); null: the nodes run elsewhere.</summary>
    public LocalNodesOptions? LocalNodes { get; set; }
}

/// <summary>A TSIG key: inline (algorithm and base64 secret) or from a BIND key file (what tsig-keygen writes).</summary>
public sealed class TsigKeyOptions
{
    public string Name { get; set; } = "";
    public string? Algorithm { get; set; }
    public string? Secret { get; set; }
    public string? File { get; set; }
}

/// <summary>One zone the signer signs and serves.</summary>
public sealed class ZoneOptions
{
    public string Name { get; set; } = "";

    /// <summary>The hidden primary serving the unsigned zone, "address:port". Exactly one of this and <see cref="ZoneFile"/>.</summary>
    public string? Primary { get; set; }

    /// <summary>TSIG key (by name) for SOA queries, transfers from and NOTIFY by the primary.</summary>
    public string? PrimaryTsigKey { get; set; }

    /// <summary>An unsigned master file, watched for changes.</summary>
    public string? ZoneFile { get; set; }

    /// <summary>Secondaries told of every new signed version, "address:port".</summary>
    public List<string> Notify { get; set; } = [];

    /// <summary>TSIG key (by name) for NOTIFY messages to the secondaries; none when empty.</summary>
    public string? NotifyTsigKey { get; set; }

    /// <summary>Who may transfer the signed zone: address prefixes ("127.0.0.0/8", "::1")…</summary>
    public List<string> AllowTransfer { get; set; } = [];

    /// <summary>…or requests signed with one of these TSIG keys.</summary>
    public List<string> AllowTransferKeys { get; set; } = [];

    /// <summary>NSEC3 (RFC 5155, RFC 9276 defaults) instead of NSEC.</summary>
    public bool Nsec3 { get; set; }
    public int Nsec3Iterations { get; set; }
    public string? Nsec3Salt { get; set; }
    public bool Nsec3OptOut { get; set; }

    /// <summary>ZONEMD digests to publish: "sha384", "sha512".</summary>
    public List<string> ZoneMd { get; set; } = [];

    /// <summary>keep, increment (default), unixtime or dateserial.</summary>
    public string SerialPolicy { get; set; } = "increment";

    /// <summary>Signature lifetime, e.g. "30d"; must exceed SOA EXPIRE + the largest TTL + the refresh margin.</summary>
    public string? SignatureValidity { get; set; }

    /// <summary>Re-sign a signature at the latest this long before it expires (default 5d; never less than SOA EXPIRE + the largest TTL).</summary>
    public string? SignatureRefresh { get; set; }

    /// <summary>Largest extra lifetime spread over RRsets so that their signatures do not all expire at once (default 12h).</summary>
    public string? SignatureJitter { get; set; }

    /// <summary>Cluster key ids to sign with (default: every key recorded for the zone in the key store).</summary>
    public List<string> KeyIds { get; set; } = [];

    /// <summary>RRsets re-signed per refresh batch (each batch is its own version and IXFR delta).</summary>
    public int RefreshBatch { get; set; } = 1000;

    /// <summary>
    /// When the zone has no keys at start-up, generate a KSK and a ZSK of this algorithm in the cluster ("ed25519" by
    /// distributed key generation, "rsasha256"/"rsasha512" dealt and erased); empty: missing keys are an error.
    /// </summary>
    public string? GenerateKeys { get; set; }
}

/// <summary>The embedded default's cluster: start the nodes of <see cref="SignerOptions.Cluster"/> as child processes.</summary>
public sealed class LocalNodesOptions
{
    /// <summary>The nodes' configuration files (node run --config …).</summary>
    public List<string> NodeConfigs { get; set; } = [];
}
