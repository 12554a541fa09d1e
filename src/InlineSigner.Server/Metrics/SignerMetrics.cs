using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Cluster.Client;
using InlineSigner.Zones.Text;
using Prometheus;

namespace InlineSigner.Server.Metrics;

/// <summary>
/// Everything the daemon counts, as Prometheus metrics in a registry of its own (one per host, never the static
/// default one). Names follow Prometheus conventions: units in the name, _total for counters, labels for zone, key,
/// node, query type and result. The DNS service reports through <see cref="IDnsMetrics"/>; cluster node health is read
/// from the client just before each scrape.
/// </summary>
public sealed class SignerMetrics : IDnsMetrics
{
    private readonly Gauge _unsignedSerial, _signedSerial, _lastSign, _secondsSinceSign, _earliestExpiry, _journalBytes, _journalEntries, _expired, _pending;
    private readonly Counter _signatures, _transfersIn, _transfersOut, _transferBytesOut, _transfersRefused, _notifySent, _notifyAcknowledged,
        _notifyFailed, _notifyReceived, _queries, _dropped, _upstreamStripped, _signingFailures, _versions;
    private readonly Histogram _signingDuration, _notifyToCommit;
    private readonly Gauge _nodeUp, _nodeLatency, _nodeInFlight;
    private readonly Counter _nodeRequests, _nodeErrors, _nodeTimeouts, _nodeBadShares;
    private readonly Dictionary<int, (long Requests, long Errors, long Timeouts, long BadShares)> _nodeSeen = [];
    private readonly Dictionary<string, DateTimeOffset> _lastSignTimes = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private ClusterClient? _cluster;

    public SignerMetrics(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        string[] zone = ["zone"];
        _unsignedSerial = f.CreateGauge("inline_signer_zone_unsigned_serial", "SOA serial of the unsigned zone last received.", zone);
        _signedSerial = f.CreateGauge("inline_signer_zone_signed_serial", "SOA serial of the signed zone being served.", zone);
        _lastSign = f.CreateGauge("inline_signer_zone_last_sign_timestamp_seconds", "When the last signed version was committed (Unix time).", zone);
        _secondsSinceSign = f.CreateGauge("inline_signer_zone_seconds_since_last_sign", "Seconds since the last signed version was committed.", zone);
        _earliestExpiry = f.CreateGauge("inline_signer_zone_earliest_signature_expiry_timestamp_seconds", "Expiration of the soonest-expiring signature served (Unix time).", zone);
        _journalBytes = f.CreateGauge("inline_signer_zone_journal_bytes", "Size of the zone's IXFR journal.", zone);
        _journalEntries = f.CreateGauge("inline_signer_zone_journal_entries", "Versions in the zone's IXFR journal.", zone);
        _expired = f.CreateGauge("inline_signer_zone_expired", "1 when the zone is past SOA EXPIRE without contact to its primary (served as SERVFAIL).", zone);
        _pending = f.CreateGauge("inline_signer_zone_pending_change", "1 while an unsigned change waits to be signed (signing failed; retrying with backoff).", zone);
        _versions = f.CreateCounter("inline_signer_zone_versions_total", "Signed versions committed, by what caused them.", "zone", "cause");
        _signatures = f.CreateCounter("inline_signer_signatures_total", "Signatures made.", "zone", "algorithm", "key_tag");
        _signingDuration = f.CreateHistogram("inline_signer_signing_duration_seconds", "Time to make and commit one signed version.",
            new HistogramConfiguration { LabelNames = ["zone", "kind"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 20) });
        _notifyToCommit = f.CreateHistogram("inline_signer_notify_to_commit_seconds", "From the primary's NOTIFY to the committed signed version.",
            new HistogramConfiguration { LabelNames = ["zone"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 20) });
        _signingFailures = f.CreateCounter("inline_signer_signing_failures_total", "Signing runs that failed (the last good version stays served).", "zone", "reason");
        _upstreamStripped = f.CreateCounter("inline_signer_upstream_dnssec_records_stripped_total", "DNSSEC records in the unsigned input that were dropped (ours replace them).", zone);
        _transfersIn = f.CreateCounter("inline_signer_transfers_in_total", "Transfers of the unsigned zone from the primary.", "zone", "type", "result");
        _transfersOut = f.CreateCounter("inline_signer_transfers_out_total", "Transfers of the signed zone served.", "zone", "type");
        _transferBytesOut = f.CreateCounter("inline_signer_transfer_bytes_out_total", "Octets of signed zone transfers served.", zone);
        _transfersRefused = f.CreateCounter("inline_signer_transfers_refused_total", "Transfer requests refused (ACL, TSIG, unknown zone).", zone);
        _notifySent = f.CreateCounter("inline_signer_notify_sent_total", "NOTIFY messages sent to secondaries (retries included).", "zone", "target");
        _notifyAcknowledged = f.CreateCounter("inline_signer_notify_acknowledged_total", "NOTIFYs acknowledged by a secondary.", "zone", "target");
        _notifyFailed = f.CreateCounter("inline_signer_notify_failed_total", "NOTIFYs given up on after every retry.", "zone", "target");
        _notifyReceived = f.CreateCounter("inline_signer_notify_received_total", "NOTIFY messages received, by result (accepted or refused).", "zone", "result");
        _queries = f.CreateCounter("inline_signer_queries_total", "DNS responses sent, by query type, response code and transport.", "qtype", "rcode", "transport");
        _dropped = f.CreateCounter("inline_signer_requests_dropped_total", "Requests not answered at all, by reason.", "reason");
        string[] node = ["node"];
        _nodeUp = f.CreateGauge("inline_signer_cluster_node_up", "1 when the key-share node answers.", node);
        _nodeLatency = f.CreateGauge("inline_signer_cluster_node_latency_seconds", "Smoothed request latency to the node.", node);
        _nodeInFlight = f.CreateGauge("inline_signer_cluster_node_in_flight_items", "Signing items sent to the node and not yet answered.", node);
        _nodeRequests = f.CreateCounter("inline_signer_cluster_node_requests_total", "Requests sent to the node.", node);
        _nodeErrors = f.CreateCounter("inline_signer_cluster_node_errors_total", "Requests to the node that failed.", node);
        _nodeTimeouts = f.CreateCounter("inline_signer_cluster_node_timeouts_total", "Requests to the node that timed out.", node);
        _nodeBadShares = f.CreateCounter("inline_signer_cluster_node_bad_shares_total", "Signature shares from the node proven wrong.", node);
        Registry.AddBeforeCollectCallback(BeforeScrape);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The cluster whose node health the metrics publish.</summary>
    public void Watch(ClusterClient? cluster) => _cluster = cluster;

    private void BeforeScrape()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
            foreach (var (zone, at) in _lastSignTimes) _secondsSinceSign.WithLabels(zone).Set((now - at).TotalSeconds);
        if (_cluster is not { } cluster) return;
        foreach (var health in cluster.Health())
        {
            var id = health.NodeId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _nodeUp.WithLabels(id).Set(health.Up ? 1 : 0);
            if (health.Latency is { } latency) _nodeLatency.WithLabels(id).Set(latency.TotalSeconds);
            _nodeInFlight.WithLabels(id).Set(health.InFlightItems);
            // The client keeps running totals; the counters move by what changed since the last scrape.
            lock (_gate)
            {
                var seen = _nodeSeen.GetValueOrDefault(health.NodeId);
                _nodeRequests.WithLabels(id).Inc(Math.Max(0, health.Requests - seen.Requests));
                _nodeErrors.WithLabels(id).Inc(Math.Max(0, health.Errors - seen.Errors));
                _nodeTimeouts.WithLabels(id).Inc(Math.Max(0, health.Timeouts - seen.Timeouts));
                _nodeBadShares.WithLabels(id).Inc(Math.Max(0, health.BadShares - seen.BadShares));
                _nodeSeen[health.NodeId] = (health.Requests, health.Errors, health.Timeouts, health.BadShares);
            }
        }
    }

    // ---- zones and signing

    public void UnsignedSerial(string zone, uint serial) => _unsignedSerial.WithLabels(zone).Set(serial);

    public void VersionCommitted(string zone, uint signedSerial, string cause, DateTimeOffset at)
    {
        _signedSerial.WithLabels(zone).Set(signedSerial);
        _lastSign.WithLabels(zone).Set(at.ToUnixTimeMilliseconds() / 1000.0);
        _versions.WithLabels(zone, cause).Inc();
        lock (_gate) _lastSignTimes[zone] = at;
    }

    public void Signatures(string zone, DnsSecAlgorithm algorithm, ushort keyTag, int count)
    {
        if (count > 0) _signatures.WithLabels(zone, Dnssec.Keys.DnssecAlgorithms.Mnemonic(algorithm), keyTag.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc(count);
    }

    public void SigningDuration(string zone, string kind, TimeSpan elapsed) => _signingDuration.WithLabels(zone, kind).Observe(elapsed.TotalSeconds);

    public void NotifyToCommit(string zone, TimeSpan elapsed) => _notifyToCommit.WithLabels(zone).Observe(elapsed.TotalSeconds);

    public void SigningFailed(string zone, string reason) => _signingFailures.WithLabels(zone, reason).Inc();

    public void Pending(string zone, bool pending) => _pending.WithLabels(zone).Set(pending ? 1 : 0);

    public void EarliestExpiry(string zone, DateTimeOffset? expiry)
    {
        if (expiry is { } e) _earliestExpiry.WithLabels(zone).Set(e.ToUnixTimeSeconds());
    }

    public void Journal(string zone, int entries, long bytes)
    {
        _journalEntries.WithLabels(zone).Set(entries);
        _journalBytes.WithLabels(zone).Set(bytes);
    }

    public void Expired(string zone, bool expired) => _expired.WithLabels(zone).Set(expired ? 1 : 0);

    public void UpstreamStripped(string zone, int records)
    {
        if (records > 0) _upstreamStripped.WithLabels(zone).Inc(records);
    }

    public void TransferIn(string zone, string type, string result) => _transfersIn.WithLabels(zone, type, result).Inc();

    // ---- NOTIFY

    public void NotifySent(string zone, string target) => _notifySent.WithLabels(zone, target).Inc();
    public void NotifyAcknowledged(string zone, string target) => _notifyAcknowledged.WithLabels(zone, target).Inc();
    public void NotifyFailed(string zone, string target) => _notifyFailed.WithLabels(zone, target).Inc();
    public void NotifyReceived(string zone, string result) => _notifyReceived.WithLabels(zone, result).Inc();

    // ---- IDnsMetrics (the DNS service)

    public void Answered(RecordType? queryType, ReturnCode returnCode, DnsTransport transport, bool truncated) =>
        _queries.WithLabels(queryType is { } t ? PresentationFormat.FormatType(t) : "none", returnCode.ToString().ToUpperInvariant(), transport == DnsTransport.Udp ? "udp" : "tcp").Inc();

    public void Dropped(DropReason reason, DnsTransport transport) => _dropped.WithLabels(reason.ToString()).Inc();

    public void TransferRefused(string zone) => _transfersRefused.WithLabels(Normalise(zone)).Inc();

    public void TransferServed(string zone, string kind, long octets)
    {
        _transfersOut.WithLabels(Normalise(zone), kind).Inc();
        _transferBytesOut.WithLabels(Normalise(zone)).Inc(octets);
    }

    private static string Normalise(string zone) => zone.EndsWith('.') ? zone.ToLowerInvariant() : zone.ToLowerInvariant() + ".";
}
