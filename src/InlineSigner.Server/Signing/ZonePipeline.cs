using System.Diagnostics;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Cluster.Client;
using InlineSigner.Dnssec;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Dnssec.Signing;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Metrics;
using InlineSigner.Server.Outbound;
using InlineSigner.Storage;
using InlineSigner.Zones;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Signing;

/// <summary>An unsigned zone (from a transfer or a file) that is not fit to be signed; the last good version stays served.</summary>
public sealed class UnsignedZoneRejectedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What one zone looks like now, for `inline-signer status` and the tests.</summary>
public sealed record ZoneStatus(
    string Zone,
    string Source,
    uint? UnsignedSerial,
    uint? SignedSerial,
    DateTimeOffset? LastSigned,
    DateTimeOffset? NextRefresh,
    IReadOnlyList<string> Keys,
    bool Expired,
    string? PendingError,
    long Versions);

/// <summary>
/// One zone's signing pipeline: unsigned version in, signed version out. Every new unsigned version is checked,
/// stripped of upstream DNSSEC data, signed incrementally (only what changed; <see cref="IncrementalSigner"/>), every
/// signature verified, then committed to the store together with its exact IXFR delta — and only then served and
/// announced by NOTIFY. A version that cannot be signed (cluster below threshold) waits and is retried with back-off
/// while the last good version stays served; a version that is unfit is dropped and said so. Signatures that near their
/// refresh point are re-signed in bounded batches, each batch its own version. Operations on a zone run one at a time.
/// </summary>
public sealed class ZonePipeline : IAsyncDisposable
{
    private readonly SignerStore _store;
    private readonly ZoneCatalog _catalog;
    private readonly ZoneKeySource _keys;
    private readonly SecondaryNotifier _notifier;
    private readonly SignerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private Task? _background;

    // The committed state (guarded by _gate for writes; read freely as immutable snapshots).
    private Zone? _unsigned;
    private Zone? _signed;
    private uint? _unsignedSerial;
    private uint? _signedSerial;
    private DateTimeOffset? _lastSigned;
    private DateTimeOffset? _nextRefresh;
    private volatile bool _expired;
    private long _versions;

    // A change that could not be signed yet (the newest one wins) and why.
    private (Zone Unsigned, string Origin, DateTimeOffset? NotifiedAt)? _pending;
    private string? _pendingError;
    private int _failures;

    public ZonePipeline(ZoneSettings settings, SignerStore store, ZoneCatalog catalog, ZoneKeySource keys, SecondaryNotifier notifier,
        SignerMetrics metrics, ILogger logger, TimeProvider? time = null)
    {
        Settings = settings;
        _store = store;
        _catalog = catalog;
        _keys = keys;
        _notifier = notifier;
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public ZoneSettings Settings { get; }

    /// <summary>The unsigned zone last committed (null before the first).</summary>
    public Zone? Unsigned => Volatile.Read(ref _unsigned);

    /// <summary>The signed zone being served (null before the first).</summary>
    public Zone? Signed => Volatile.Read(ref _signed);

    public uint? UnsignedSerial => _unsignedSerial;

    /// <summary>When the version being served was committed (null before the first).</summary>
    public DateTimeOffset? LastCommitted => _lastSigned;

    /// <summary>The serial being served, for log lines ("none" before the first version).</summary>
    public string ServedSerial => _signedSerial?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";

    /// <summary>Longest wait between retries of a change that could not be signed.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Pause between two refresh batches, so a zone full of expiring signatures is re-signed as a trickle.</summary>
    public TimeSpan RefreshPause { get; init; } = TimeSpan.FromSeconds(1);

    public ZoneStatus Status()
    {
        IReadOnlyList<string> keys;
        try
        {
            keys = _keys.KeysFor(Settings).Keys.Select(k => $"{k.KeyTag}/{DnssecAlgorithms.Mnemonic(k.Algorithm)}/{(ZoneKeys.IsKsk(k) ? "KSK" : "ZSK")}").ToList();
        }
        catch (SignerConfigurationException e)
        {
            keys = [e.Message];
        }
        return new ZoneStatus(Settings.Name, Settings.Source.ToString()!, _unsignedSerial, _signedSerial, _lastSigned, _nextRefresh, keys, _expired, _pendingError,
            Interlocked.Read(ref _versions));
    }

    /// <summary>Serves what the store holds for this zone (no re-signing) and starts the retry and refresh loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var stored = await _store.LoadAsync(Settings.Origin, cancellationToken);
        if (stored is not null)
        {
            _unsigned = stored.Unsigned;
            _signed = stored.Signed;
            _unsignedSerial = stored.UnsignedSerial;
            _signedSerial = stored.SignedSerial;
            _lastSigned = stored.LastCommit;
            Publish(stored.Signed, previous: null);
            _metrics.UnsignedSerial(Settings.Name, stored.UnsignedSerial);
            _metrics.VersionCommitted(Settings.Name, stored.SignedSerial, "restart", stored.LastCommit);
            _logger.LogInformation("zone {Zone}: serving signed serial {Serial} (unsigned {Unsigned}) from {Database}, committed {At:u}",
                Settings.Name, stored.SignedSerial, stored.UnsignedSerial, _store.Path, stored.LastCommit);
            UpdateRefreshDue();
            var (entries, bytes) = await _store.JournalStatsAsync(Settings.Origin, cancellationToken);
            _metrics.Journal(Settings.Name, entries, bytes);
        }
        _background = Task.Run(() => BackgroundLoopAsync(_stopping.Token));
    }

    /// <summary>
    /// Makes <paramref name="unsigned"/> the zone's next version: checked, signed, committed, served, announced. Returns
    /// true once committed (or when nothing changed); false when signing failed for now (it is retried in the
    /// background). Throws <see cref="UnsignedZoneRejectedException"/> for a zone unfit to sign.
    /// <paramref name="notifiedAt"/>: when the primary's NOTIFY that led here arrived (for the latency metric).
    /// </summary>
    public async Task<bool> SubmitAsync(Zone unsigned, string origin, DateTimeOffset? notifiedAt, CancellationToken cancellationToken)
    {
        var checking = Stopwatch.StartNew();
        var clean = Clean(unsigned);
        var checkTime = checking.Elapsed;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await ApplyLockedAsync(clean, origin, notifiedAt, cancellationToken, checkTime);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Checks the zone and drops the DNSSEC records the signer owns (counted): what remains is what we sign.</summary>
    private Zone Clean(Zone unsigned)
    {
        // Every structural check is about one node (plus the apex), so against a version already checked only the
        // changed nodes need looking at: at 100,000 names the whole-zone pass cost more than signing a change.
        var previous = Volatile.Read(ref _unsigned);
        var changes = previous is not null && previous.Soa?.RecordClass == unsigned.Soa?.RecordClass ? TryDiff(previous, unsigned) : null;
        var checkedZone = changes is null ? unsigned : ChangedNodes(unsigned, changes);
        if (ZoneChecks.FindStructuralProblem(checkedZone) is { } problem)
            throw new UnsignedZoneRejectedException($"zone {Settings.Name}: {problem.Message}");
        // The last clean version holds none of the types we own, so only changed RRsets can bring them in.
        var owned = changes is null
            ? unsigned.RRsets.Where(s => ZoneSigner.SignerOwnedTypes.Contains(s.Type)).ToList()
            : changes.Changes.Where(c => c.New is not null && ZoneSigner.SignerOwnedTypes.Contains(c.Type)).Select(c => c.New!).ToList();
        if (owned.Count == 0) return unsigned;
        int records = owned.Sum(s => s.Count);
        _metrics.UpstreamStripped(Settings.Name, records);
        _logger.LogInformation("zone {Zone} serial {Serial}: dropped {Records} upstream DNSSEC record(s) ({Types}); the signed zone's are ours",
            Settings.Name, unsigned.Serial, records, string.Join(", ", owned.Select(s => s.Type).Distinct()));
        return unsigned.WithChanges([], owned.Select(s => (s.Owner, s.Type)));
    }

    /// <param name="checkTime">Time spent checking and cleaning the unsigned zone before the zone's lock (for the commit log line).</param>
    private static ZoneDiff? TryDiff(Zone previous, Zone unsigned)
    {
        try
        {
            return ZoneDiff.Compute(previous, unsigned);
        }
        catch (ZoneDiffConflictException)
        {
            return null; // not comparable: check it whole
        }
    }

    /// <summary>The apex and every node a change touched, as a zone of its own for the structural checks.</summary>
    private static Zone ChangedNodes(Zone unsigned, ZoneDiff changes)
    {
        var owners = changes.Changes.Select(c => c.Owner).Append(unsigned.Origin).Distinct(CanonicalNameComparer.Instance);
        var records = owners.SelectMany(o => unsigned.Nodes.TryGetValue(o, out var node) ? node.Values.SelectMany(set => set.Records) : []);
        return Zone.FromRecords(unsigned.Origin, records);
    }

    private async Task<bool> ApplyLockedAsync(Zone unsigned, string origin, DateTimeOffset? notifiedAt, CancellationToken cancellationToken, TimeSpan checkTime = default)
    {
        var previousUnsigned = _unsigned;
        var previousSigned = _signed;
        if (previousUnsigned is not null && previousSigned is not null && _unsignedSerial == unsigned.Serial && ZoneDiff.Compute(previousUnsigned, unsigned).IsEmpty)
        {
            ClearPending();
            return true; // the same data again (a repeated AXFR, an unchanged file)
        }
        var now = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        try
        {
            var keys = _keys.KeysFor(Settings);
            uint serial = NextSerial(unsigned, now, refresh: false);
            // Where one version's time goes, for the commit log line: signing, working out what to store, the
            // transaction, publishing to the DNS service.
            SignedChange change = previousSigned is null || previousUnsigned is null
                ? await IncrementalSigner.SignFullAsync(unsigned, serial, Settings.Policy, keys, now, null, cancellationToken)
                : await IncrementalSigner.ApplyAsync(previousSigned, previousUnsigned, unsigned, serial, Settings.Policy, keys, now, cancellationToken);
            if (change.FullResignReason is { } why) _logger.LogInformation("zone {Zone}: signing in full: {Reason}", Settings.Name, why);
            var signTime = clock.Elapsed;

            var unsignedChanges = previousUnsigned is null ? RRsetChanges.Replace(unsigned) : Changes(ZoneDiff.Compute(previousUnsigned, unsigned));
            var signedChanges = previousSigned is null ? RRsetChanges.Replace(change.Signed) : Changes(change.Diff);
            var delta = previousSigned is null ? null : new Storage.JournalDelta(previousSigned.Serial, serial, change.Removed, change.Added);
            var diffTime = clock.Elapsed;
            await CommitAsync(unsigned, change.Signed, unsignedChanges, signedChanges, delta, now, cancellationToken);
            var storeTime = clock.Elapsed;
            // New data from upstream ends an expiry; cleared before publishing, or the new version would go out
            // still marked expired (SERVFAIL) with nothing to publish it again.
            SetExpired(false);
            Announce(change, previousSigned);
            var publishTime = clock.Elapsed;
            ClearPending();
            var kind = previousSigned is null || change.FullResignReason is not null ? "full" : "incremental";
            _metrics.SigningDuration(Settings.Name, kind, clock.Elapsed);
            if (notifiedAt is { } at) _metrics.NotifyToCommit(Settings.Name, _time.GetUtcNow() - at);
            _metrics.VersionCommitted(Settings.Name, serial, origin, _lastSigned!.Value);
            _metrics.UnsignedSerial(Settings.Name, unsigned.Serial);
            var refreshStart = clock.Elapsed;
            UpdateRefreshDue(kind == "incremental" ? change : null);
            _logger.LogInformation("zone {Zone} serial {Serial}: committed ({Kind}, from unsigned serial {Unsigned} via {Origin}): {Signatures} signature(s) over {RRsets} RRset(s), delta -{Removed}/+{Added} records, {Ms:F0} ms (check {Check:F0}, sign {Sign:F0}, diff {Diff:F0}, store {Store:F0}, publish {Publish:F0}, refresh schedule {Refresh:F0} ms)",
                Settings.Name, serial, kind, unsigned.Serial, origin, change.SignaturesMade, change.RRsetsSigned, change.Removed.Count, change.Added.Count, publishTime.TotalMilliseconds,
                checkTime.TotalMilliseconds, signTime.TotalMilliseconds, (diffTime - signTime).TotalMilliseconds, (storeTime - diffTime).TotalMilliseconds,
                (publishTime - storeTime).TotalMilliseconds, (clock.Elapsed - refreshStart).TotalMilliseconds);
            return true;
        }
        catch (Exception e) when (IsTransient(e))
        {
            // The cluster cannot sign now: keep serving the last good version and try again later.
            _pending = (unsigned, origin, notifiedAt);
            _pendingError = e.Message;
            _failures++;
            // Back-off: 1 s, 2 s, 4 s … up to MaxRetryDelay after consecutive failures.
            _nextRetry = _time.GetUtcNow() + TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, Math.Pow(2, _failures - 1)));
            _metrics.SigningFailed(Settings.Name, Reason(e));
            _metrics.Pending(Settings.Name, true);
            _logger.LogError("zone {Zone}: unsigned serial {Unsigned} could not be signed (attempt {Attempt}); still serving signed serial {Served}: {Reason}",
                Settings.Name, unsigned.Serial, _failures, _signedSerial?.ToString() ?? "none", e.Message);
            _wake.Release();
            return false;
        }
        catch (Exception e) when (e is SigningPolicyException or ZoneDiffConflictException or SignerConfigurationException or ArgumentException)
        {
            ClearPending();
            _metrics.SigningFailed(Settings.Name, Reason(e));
            throw new UnsignedZoneRejectedException($"zone {Settings.Name}: unsigned serial {unsigned.Serial} cannot be signed: {e.Message}", e);
        }
    }

    private static bool IsTransient(Exception e) => e is ClusterSigningException or SignatureVerificationException or TimeoutException
        or StoreCorruptException or IOException or Microsoft.Data.Sqlite.SqliteException
        || e is AggregateException { InnerExceptions.Count: 1 } a && IsTransient(a.InnerExceptions[0]);

    private static string Reason(Exception e) => e switch
    {
        ClusterSigningException => "cluster_below_threshold",
        SignatureVerificationException => "bad_signature",
        TimeoutException => "timeout",
        SigningPolicyException => "policy",
        SignerConfigurationException => "keys",
        ZoneDiffConflictException => "conflict",
        _ => "store",
    };

    private void ClearPending()
    {
        _pending = null;
        _pendingError = null;
        _failures = 0;
        _metrics.Pending(Settings.Name, false);
    }

    private async Task CommitAsync(Zone unsigned, Zone signed, RRsetChanges unsignedChanges, RRsetChanges signedChanges, Storage.JournalDelta? delta,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One transaction: a crash leaves the old version or the new one, never half of it. Only then is it served.
        await _store.CommitAsync(new ZoneCommit(Settings.Origin, unsigned.Serial, signed.Serial, unsignedChanges, signedChanges, delta, now), cancellationToken);
        Volatile.Write(ref _unsigned, unsigned);
        Volatile.Write(ref _signed, signed);
        _unsignedSerial = unsigned.Serial;
        _signedSerial = signed.Serial;
        _lastSigned = now;
        Interlocked.Increment(ref _versions);
        var (entries, bytes) = await _store.JournalStatsAsync(Settings.Origin, cancellationToken);
        _metrics.Journal(Settings.Name, entries, bytes);
    }

    /// <summary>
    /// The serial of the next signed version under the zone's policy; a refresh steps it without an upstream change,
    /// which policy keep cannot do (warned, as is keep meeting an unsigned serial at or below the signed one).
    /// </summary>
    private uint NextSerial(Zone unsigned, DateTimeOffset now, bool refresh)
    {
        uint serial = SerialPolicy.Next(Settings.SerialPolicy, unsigned.Serial, _signedSerial, now, out bool kept);
        if (kept) return serial;
        if (refresh)
            _logger.LogWarning("zone {Zone}: serial policy keep: a refresh must step the signed serial past {Signed} without an upstream change; signing as {Serial}",
                Settings.Name, _signedSerial, serial);
        else
            _logger.LogWarning("zone {Zone}: serial policy keep cannot use unsigned serial {Unsigned} after signed serial {Signed}; signing as {Serial}",
                Settings.Name, unsigned.Serial, _signedSerial, serial);
        return serial;
    }

    /// <summary>A committed version goes out: its signatures counted, served in place of <paramref name="previous"/> (null: the first), secondaries notified.</summary>
    private void Announce(SignedChange change, Zone? previous)
    {
        CountSignatures(change);
        Publish(change.Signed, previous, change.Diff.Changes.Select(c => c.Owner).ToList());
        _notifier.Notify((SoaRecord)change.Signed.Find(Settings.Origin, RecordType.Soa)!.Records[0]);
    }

    private void CountSignatures(SignedChange change)
    {
        foreach (var group in change.Added.OfType<RrSigRecord>().GroupBy(r => (r.Algorithm, r.KeyTag)))
            _metrics.Signatures(Settings.Name, group.Key.Algorithm, group.Key.KeyTag, group.Count());
    }

    private static RRsetChanges Changes(ZoneDiff diff) =>
        new(diff.Changes.Where(c => c.New is not null).Select(c => c.New!).ToList(),
            diff.Changes.Where(c => c.New is null).Select(c => (c.Owner, c.Type)).ToList());

    /// <param name="changedOwners">Owners whose RRsets differ from <paramref name="previous"/>: the index is then patched, not rebuilt.</param>
    private void Publish(Zone signed, Zone? previous, IReadOnlyCollection<ARSoft.Tools.Net.DomainName>? changedOwners = null)
    {
        var current = previous is null ? null : _catalog.TryGet(Settings.Origin);
        // The changed owners are relative to the version being served; anything else is indexed whole.
        if (current is not null && !ReferenceEquals(current.Zone, previous)) changedOwners = null;
        var served = ServedZone.Create(signed, null, current, changedOwners);
        _catalog.Publish(_expired ? served.WithExpired(true) : served);
    }

    /// <summary>
    /// Past SOA EXPIRE without a good refresh from the primary: stop answering (SERVFAIL) until data arrives again.
    /// </summary>
    public void SetExpired(bool expired)
    {
        if (_expired == expired) return;
        _expired = expired;
        _metrics.Expired(Settings.Name, expired);
        if (_catalog.TryGet(Settings.Origin) is { } served) _catalog.Publish(served.WithExpired(expired));
        if (expired) _logger.LogError("zone {Zone}: past SOA EXPIRE without contact to the primary; answering SERVFAIL until it is refreshed", Settings.Name);
        else _logger.LogInformation("zone {Zone}: refreshed from the primary; serving again", Settings.Name);
    }

    public bool IsExpired => _expired;

    // The earliest signature expiration and the largest TTL of the signed zone: what the refresh point depends on.
    private (DateTime Earliest, int MaxTtl)? _signatureSummary;

    /// <summary>
    /// When the next refresh is due, and the earliest expiry metric. After an incremental change (<paramref name="change"/>)
    /// the summary is updated from the records the change removed and added instead of a scan of every signature
    /// (hundreds of milliseconds at 100,000 names); a scan is made when there is no summary yet, or when a removed
    /// signature was the earliest. The largest TTL only grows that way: a refresh may come early, never late.
    /// </summary>
    private void UpdateRefreshDue(SignedChange? change = null)
    {
        var signed = _signed;
        if (signed is null) return;
        if (change is not null && _signatureSummary is { } summary
            && !change.Removed.OfType<RrSigRecord>().Any(r => r.SignatureExpiration <= summary.Earliest)
            && signed.Soa is { } soa)
        {
            var earliest = summary.Earliest;
            int maxTtl = summary.MaxTtl;
            foreach (var record in change.Added)
            {
                maxTtl = Math.Max(maxTtl, record.TimeToLive);
                if (record is RrSigRecord rrsig && rrsig.SignatureExpiration < earliest) earliest = rrsig.SignatureExpiration;
            }
            _signatureSummary = (earliest, maxTtl);
            _nextRefresh = new DateTimeOffset(earliest, TimeSpan.Zero)
                - Settings.Policy.Schedule.RefreshPoint(TimeSpan.FromSeconds(soa.ExpireInterval), TimeSpan.FromSeconds(maxTtl));
        }
        else
        {
            _nextRefresh = IncrementalSigner.NextRefreshDue(signed, Settings.Policy);
            _signatureSummary = Summarise(signed);
        }
        _metrics.EarliestExpiry(Settings.Name, _signatureSummary is { } s ? new DateTimeOffset(s.Earliest, TimeSpan.Zero) : null);
        _wake.Release();
    }

    private static (DateTime Earliest, int MaxTtl)? Summarise(Zone signed)
    {
        DateTime? earliest = null;
        int maxTtl = 0;
        foreach (var set in signed.RRsets)
        {
            foreach (var record in set.Records)
            {
                maxTtl = Math.Max(maxTtl, record.TimeToLive);
                if (record is RrSigRecord rrsig && (earliest is null || rrsig.SignatureExpiration < earliest)) earliest = rrsig.SignatureExpiration;
            }
        }
        return earliest is { } e ? (e, maxTtl) : null;
    }

    /// <summary>Retries a pending change with back-off, and re-signs what is due for refresh, one bounded batch at a time.</summary>
    private async Task BackgroundLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var wait = NextWake();
                if (wait > TimeSpan.Zero) await _wake.WaitAsync(wait, cancellationToken);
                await _gate.WaitAsync(cancellationToken);
                try
                {
                    if (_pending is { } pending)
                    {
                        if (_time.GetUtcNow() >= _nextRetry) await ApplyLockedAsync(pending.Unsigned, pending.Origin, pending.NotifiedAt, cancellationToken);
                        continue;
                    }
                    if (_nextRefresh is { } due && due <= _time.GetUtcNow()) await RefreshLockedAsync(cancellationToken);
                }
                finally
                {
                    _gate.Release();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (UnsignedZoneRejectedException e)
            {
                _logger.LogError("{Message}", e.Message);
            }
#pragma warning disable CA1031 // the loop must outlive one bad run; the failure is logged and retried
            catch (Exception e)
#pragma warning restore CA1031
            {
                _logger.LogError(e, "zone {Zone}: background signing failed", Settings.Name);
                try { await Task.Delay(TimeSpan.FromSeconds(5), _time, cancellationToken); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private DateTimeOffset _nextRetry;

    private TimeSpan NextWake()
    {
        var now = _time.GetUtcNow();
        if (_pending is not null) return _nextRetry <= now ? TimeSpan.Zero : _nextRetry - now;
        if (_nextRefresh is { } due) return due <= now ? TimeSpan.Zero : Min(due - now, TimeSpan.FromHours(1));
        return TimeSpan.FromHours(1);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private async Task RefreshLockedAsync(CancellationToken cancellationToken)
    {
        var signed = _signed;
        var unsigned = _unsigned;
        if (signed is null || unsigned is null) return;
        var now = _time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        try
        {
            var keys = _keys.KeysFor(Settings);
            uint serial = NextSerial(unsigned, now, refresh: true);
            SignedChange? change;
            try
            {
                change = await IncrementalSigner.RefreshAsync(signed, serial, Settings.Policy, keys, now, Settings.RefreshBatch, cancellationToken);
            }
            catch (InvalidOperationException)
            {
                // Keys or policy changed since the zone was signed: that is a full re-sign of the same unsigned data.
                change = await IncrementalSigner.ApplyAsync(signed, unsigned, unsigned, serial, Settings.Policy, keys, now, cancellationToken);
            }
            if (change is null || change.IsEmpty)
            {
                UpdateRefreshDue();
                return;
            }
            await CommitAsync(unsigned, change.Signed, RRsetChanges.None, Changes(change.Diff),
                new Storage.JournalDelta(signed.Serial, serial, change.Removed, change.Added), now, cancellationToken);
            Announce(change, signed);
            _metrics.SigningDuration(Settings.Name, "refresh", clock.Elapsed);
            _metrics.VersionCommitted(Settings.Name, serial, "refresh", now);
            _logger.LogInformation("zone {Zone} serial {Serial}: signature refresh committed: {Signatures} signature(s) over {RRsets} RRset(s), {Ms:F0} ms",
                Settings.Name, serial, change.SignaturesMade, change.RRsetsSigned, clock.Elapsed.TotalMilliseconds);
            UpdateRefreshDue();
            // Spread batches: the next one waits a moment even when more is due.
            if (_nextRefresh is { } due && due <= _time.GetUtcNow()) _nextRefresh = _time.GetUtcNow() + RefreshPause;
        }
        catch (Exception e) when (IsTransient(e))
        {
            _metrics.SigningFailed(Settings.Name, Reason(e));
            _logger.LogError("zone {Zone}: signature refresh failed, retrying in {Delay} s; still serving signed serial {Served}: {Reason}",
                Settings.Name, MaxRetryDelay.TotalSeconds / 4, _signedSerial, e.Message);
            _nextRefresh = _time.GetUtcNow() + MaxRetryDelay / 4;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        if (_background is not null)
        {
            try { await _background; } catch (OperationCanceledException) { }
        }
        // Wait for a signing run in progress to finish (its commit is one transaction either way).
        await _gate.WaitAsync();
        _gate.Release();
        _stopping.Dispose();
    }
}
