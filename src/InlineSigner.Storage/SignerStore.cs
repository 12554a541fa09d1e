using System.Globalization;
using ARSoft.Tools.Net;
using InlineSigner.Zones;
using Microsoft.Data.Sqlite;

namespace InlineSigner.Storage;

/// <summary>
/// Durable state of the signer in one SQLite database (WAL): per zone the unsigned and the signed version,
/// their serials, the serial mapping and the IXFR journal of signed deltas. A new version is one
/// transaction, so a crash leaves either the old or the new version, never a mix; the daemon serves what
/// <see cref="LoadAsync"/> returns at start-up without re-signing.
/// </summary>
public sealed class SignerStore : IAsyncDisposable, IDisposable
{
    private const int SchemaVersion = 1;
    private const int KindUnsigned = 0;
    private const int KindSigned = 1;

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SignerStore(string path, SqliteConnection connection)
    {
        Path = path;
        _connection = connection;
    }

    public string Path { get; }

    /// <summary>
    /// Opens the store at <paramref name="path"/>. A missing file is created only when <paramref name="create"/>;
    /// a file that is not a healthy store of ours is a <see cref="StoreCorruptException"/> naming it.
    /// </summary>
    public static async Task<SignerStore> OpenAsync(string path, bool create, CancellationToken cancellationToken)
    {
        var full = System.IO.Path.GetFullPath(path);
        bool exists = File.Exists(full);
        if (!exists && !create) throw new FileNotFoundException($"signer database {full} does not exist", full);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = exists ? SqliteOpenMode.ReadWrite : SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken);
            var store = new SignerStore(full, connection);
            await store.InitialiseAsync(fresh: !exists, cancellationToken);
            return store;
        }
        catch (SqliteException e)
        {
            await connection.DisposeAsync();
            throw new StoreCorruptException($"signer database {full} is unreadable or corrupt: {e.Message}", e);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task InitialiseAsync(bool fresh, CancellationToken cancellationToken)
    {
        await ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", cancellationToken);
        if (!fresh)
        {
            var check = await ScalarAsync("PRAGMA quick_check;", cancellationToken);
            if (!string.Equals(check as string, "ok", StringComparison.Ordinal))
                throw new StoreCorruptException($"signer database {Path} failed its integrity check: {check}");
            var version = await ScalarAsync("SELECT value FROM meta WHERE key='schema_version';", cancellationToken);
            if (version is not string text || text != SchemaVersion.ToString(CultureInfo.InvariantCulture))
                throw new StoreCorruptException($"signer database {Path} has schema version {version ?? "none"}, expected {SchemaVersion}");
            return;
        }
        await ExecuteAsync($"""
            BEGIN;
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES('schema_version', '{SchemaVersion}');
            CREATE TABLE zones(name TEXT PRIMARY KEY, unsigned_serial INTEGER NOT NULL, signed_serial INTEGER NOT NULL, last_commit INTEGER NOT NULL);
            CREATE TABLE rrsets(zone TEXT NOT NULL REFERENCES zones(name) ON DELETE CASCADE, kind INTEGER NOT NULL,
                owner_key BLOB NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(zone, kind, owner_key, type)) WITHOUT ROWID;
            CREATE TABLE journal(zone TEXT NOT NULL REFERENCES zones(name) ON DELETE CASCADE, seq INTEGER NOT NULL,
                from_serial INTEGER NOT NULL, to_serial INTEGER NOT NULL, created_at INTEGER NOT NULL, size INTEGER NOT NULL,
                removed BLOB NOT NULL, added BLOB NOT NULL, PRIMARY KEY(zone, seq));
            CREATE TABLE serial_map(zone TEXT NOT NULL REFERENCES zones(name) ON DELETE CASCADE, signed_serial INTEGER NOT NULL,
                unsigned_serial INTEGER NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(zone, signed_serial));
            COMMIT;
            """, cancellationToken);
    }

    /// <summary>Names of the zones the store holds.</summary>
    public async Task<IReadOnlyList<DomainName>> ZoneNamesAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT name FROM zones ORDER BY name;";
            var names = new List<DomainName>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) names.Add(DomainName.Parse(reader.GetString(0)));
            return names;
        }
        finally { _gate.Release(); }
    }

    /// <summary>The last committed versions of <paramref name="zone"/>, or null when the store has never held it.</summary>
    public async Task<StoredZone?> LoadAsync(DomainName zone, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var key = ZoneKey(zone);
            using var head = _connection.CreateCommand();
            head.CommandText = "SELECT unsigned_serial, signed_serial, last_commit FROM zones WHERE name=$n;";
            head.Parameters.AddWithValue("$n", key);
            uint unsignedSerial, signedSerial;
            DateTimeOffset lastCommit;
            using (var reader = await head.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken)) return null;
                unsignedSerial = checked((uint)reader.GetInt64(0));
                signedSerial = checked((uint)reader.GetInt64(1));
                lastCommit = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2));
            }
            var unsignedSets = new List<RRset>();
            var signedSets = new List<RRset>();
            using var rows = _connection.CreateCommand();
            rows.CommandText = "SELECT kind, data FROM rrsets WHERE zone=$n;";
            rows.Parameters.AddWithValue("$n", key);
            using (var reader = await rows.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    int kind = reader.GetInt32(0);
                    var set = RecordBlob.DecodeRRset((byte[])reader.GetValue(1), $"{Path}: zone {key}");
                    (kind == KindSigned ? signedSets : unsignedSets).Add(set);
                }
            }
            return new StoredZone(zone, unsignedSerial, signedSerial, lastCommit,
                Zone.Empty(zone).WithChanges(unsignedSets, []), Zone.Empty(zone).WithChanges(signedSets, []));
        }
        finally { _gate.Release(); }
    }

    /// <summary>Commits one new version (unsigned changes, signed changes, journal entry, serial mapping) atomically.</summary>
    public async Task CommitAsync(ZoneCommit commit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var key = ZoneKey(commit.Zone);
            using var transaction = (SqliteTransaction)await _connection.BeginTransactionAsync(cancellationToken);
            await UpsertZoneAsync(transaction, key, commit, cancellationToken);
            await ApplyAsync(transaction, key, KindUnsigned, commit.Unsigned, cancellationToken);
            await ApplyAsync(transaction, key, KindSigned, commit.Signed, cancellationToken);
            if (commit.Delta is { } delta) await AppendJournalAsync(transaction, key, delta, commit.At, cancellationToken);
            await MapSerialAsync(transaction, key, commit, cancellationToken);
            await TrimJournalAsync(transaction, key, commit.Limits ?? JournalLimits.Default, commit.At, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// The journal entries leading from <paramref name="fromSerial"/> to the current signed serial, in order,
    /// or null when the journal does not cover that serial (the caller then sends the full zone).
    /// </summary>
    public async Task<IReadOnlyList<StoredJournalEntry>?> JournalFromAsync(DomainName zone, uint fromSerial, CancellationToken cancellationToken)
    {
        var all = await JournalAsync(zone, cancellationToken);
        int start = -1;
        for (int i = 0; i < all.Count; i++)
        {
            if (all[i].Delta.FromSerial == fromSerial) { start = i; break; }
        }
        if (start < 0) return null;
        // Entries must chain: each one starts where the previous ended.
        for (int i = start + 1; i < all.Count; i++)
            if (all[i].Delta.FromSerial != all[i - 1].Delta.ToSerial) return null;
        return all.Skip(start).ToList();
    }

    /// <summary>The whole journal of a zone, oldest first.</summary>
    public async Task<IReadOnlyList<StoredJournalEntry>> JournalAsync(DomainName zone, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT seq, from_serial, to_serial, created_at, size, removed, added FROM journal WHERE zone=$n ORDER BY seq;";
            command.Parameters.AddWithValue("$n", ZoneKey(zone));
            var entries = new List<StoredJournalEntry>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var context = $"{Path}: journal of {zone} entry {reader.GetInt64(0)}";
                var delta = new JournalDelta(checked((uint)reader.GetInt64(1)), checked((uint)reader.GetInt64(2)),
                    RecordBlob.DecodeRecords((byte[])reader.GetValue(5), context), RecordBlob.DecodeRecords((byte[])reader.GetValue(6), context));
                entries.Add(new StoredJournalEntry(reader.GetInt64(0), delta, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), reader.GetInt64(4)));
            }
            return entries;
        }
        finally { _gate.Release(); }
    }

    /// <summary>How many versions the zone's journal holds and their size, without reading them.</summary>
    public async Task<(int Entries, long Bytes)> JournalStatsAsync(DomainName zone, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM journal WHERE zone=$n;";
            command.Parameters.AddWithValue("$n", ZoneKey(zone));
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return (reader.GetInt32(0), reader.GetInt64(1));
        }
        finally { _gate.Release(); }
    }

    /// <summary>Signed serial → unsigned serial it was made from, oldest first.</summary>
    public async Task<IReadOnlyList<(uint Signed, uint Unsigned)>> SerialMapAsync(DomainName zone, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT signed_serial, unsigned_serial FROM serial_map WHERE zone=$n ORDER BY created_at, rowid;";
            command.Parameters.AddWithValue("$n", ZoneKey(zone));
            var result = new List<(uint, uint)>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) result.Add((checked((uint)reader.GetInt64(0)), checked((uint)reader.GetInt64(1))));
            return result;
        }
        finally { _gate.Release(); }
    }

    private async Task UpsertZoneAsync(SqliteTransaction transaction, string key, ZoneCommit commit, CancellationToken cancellationToken)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO zones(name, unsigned_serial, signed_serial, last_commit) VALUES($n, $u, $s, $t)
            ON CONFLICT(name) DO UPDATE SET unsigned_serial=$u, signed_serial=$s, last_commit=$t;
            """;
        command.Parameters.AddWithValue("$n", key);
        command.Parameters.AddWithValue("$u", (long)commit.UnsignedSerial);
        command.Parameters.AddWithValue("$s", (long)commit.SignedSerial);
        command.Parameters.AddWithValue("$t", commit.At.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task ApplyAsync(SqliteTransaction transaction, string key, int kind, RRsetChanges changes, CancellationToken cancellationToken)
    {
        if (changes.IsEmpty) return;
        if (changes.ReplaceAll)
        {
            using var clear = _connection.CreateCommand();
            clear.Transaction = transaction;
            clear.CommandText = "DELETE FROM rrsets WHERE zone=$n AND kind=$k;";
            clear.Parameters.AddWithValue("$n", key);
            clear.Parameters.AddWithValue("$k", kind);
            await clear.ExecuteNonQueryAsync(cancellationToken);
        }
        using (var delete = _connection.CreateCommand())
        {
            delete.Transaction = transaction;
            delete.CommandText = "DELETE FROM rrsets WHERE zone=$n AND kind=$k AND owner_key=$o AND type=$t;";
            var owner = delete.Parameters.Add("$o", SqliteType.Blob);
            var type = delete.Parameters.Add("$t", SqliteType.Integer);
            delete.Parameters.AddWithValue("$n", key);
            delete.Parameters.AddWithValue("$k", kind);
            foreach (var (name, recordType) in changes.Removals)
            {
                owner.Value = RecordWire.Name(name, lowercase: true);
                type.Value = (int)recordType;
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        using var upsert = _connection.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = "INSERT OR REPLACE INTO rrsets(zone, kind, owner_key, type, data) VALUES($n, $k, $o, $t, $d);";
        upsert.Parameters.AddWithValue("$n", key);
        upsert.Parameters.AddWithValue("$k", kind);
        var ownerKey = upsert.Parameters.Add("$o", SqliteType.Blob);
        var typeKey = upsert.Parameters.Add("$t", SqliteType.Integer);
        var data = upsert.Parameters.Add("$d", SqliteType.Blob);
        foreach (var set in changes.Upserts)
        {
            ownerKey.Value = RecordWire.Name(set.Owner, lowercase: true);
            typeKey.Value = (int)set.Type;
            data.Value = RecordBlob.EncodeRRset(set);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private async Task AppendJournalAsync(SqliteTransaction transaction, string key, JournalDelta delta, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var removed = RecordBlob.EncodeRecords(delta.Removed);
        var added = RecordBlob.EncodeRecords(delta.Added);
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO journal(zone, seq, from_serial, to_serial, created_at, size, removed, added)
            VALUES($n, COALESCE((SELECT MAX(seq) FROM journal WHERE zone=$n), 0) + 1, $f, $to, $t, $s, $r, $a);
            """;
        command.Parameters.AddWithValue("$n", key);
        command.Parameters.AddWithValue("$f", (long)delta.FromSerial);
        command.Parameters.AddWithValue("$to", (long)delta.ToSerial);
        command.Parameters.AddWithValue("$t", at.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$s", (long)(removed.Length + added.Length));
        command.Parameters.AddWithValue("$r", removed);
        command.Parameters.AddWithValue("$a", added);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task MapSerialAsync(SqliteTransaction transaction, string key, ZoneCommit commit, CancellationToken cancellationToken)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT OR REPLACE INTO serial_map(zone, signed_serial, unsigned_serial, created_at) VALUES($n, $s, $u, $t);";
        command.Parameters.AddWithValue("$n", key);
        command.Parameters.AddWithValue("$s", (long)commit.SignedSerial);
        command.Parameters.AddWithValue("$u", (long)commit.UnsignedSerial);
        command.Parameters.AddWithValue("$t", commit.At.ToUnixTimeMilliseconds());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Drops the oldest journal entries beyond the size or age bound (the newest entry always stays).</summary>
    private async Task TrimJournalAsync(SqliteTransaction transaction, string key, JournalLimits limits, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var entries = new List<(long Seq, long Size, long At)>();
        using (var list = _connection.CreateCommand())
        {
            list.Transaction = transaction;
            list.CommandText = "SELECT seq, size, created_at FROM journal WHERE zone=$n ORDER BY seq DESC;";
            list.Parameters.AddWithValue("$n", key);
            using var reader = await list.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken)) entries.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
        }
        long total = 0;
        long oldestAllowed = (now - limits.MaxAge).ToUnixTimeMilliseconds();
        long? cutoff = null;
        for (int i = 0; i < entries.Count; i++)
        {
            total += entries[i].Size;
            if (i > 0 && (total > limits.MaxBytes || entries[i].At < oldestAllowed)) { cutoff = entries[i].Seq; break; }
        }
        if (cutoff is null) return;
        using var delete = _connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM journal WHERE zone=$n AND seq<=$s;";
        delete.Parameters.AddWithValue("$n", key);
        delete.Parameters.AddWithValue("$s", cutoff.Value);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string ZoneKey(DomainName zone) => zone.ToString().ToLowerInvariant();

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _gate.Dispose();
    }

    public void Dispose()
    {
        _connection.Dispose();
        _gate.Dispose();
    }
}
