using System.Collections;
using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Storage;
using InlineSigner.Zones;
using Zone = InlineSigner.Zones.Zone;

namespace InlineSigner.Storage.Tests;

public sealed class SignerStoreTests : IDisposable
{
    private static readonly DomainName Origin = DomainName.Parse("example.com");
    private readonly string _dir = Directory.CreateTempSubdirectory("store-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string DbPath => Path.Combine(_dir, "signer.db");

    private static SoaRecord Soa(uint serial) =>
        new(Origin, 3600, DomainName.Parse("ns1.example.com"), DomainName.Parse("hostmaster.example.com"), serial, 7200, 3600, 1209600, 300);

    private static Zone SampleZone(uint serial, int hosts) =>
        Zone.FromRecords(Origin, new DnsRecordBase[]
        {
            Soa(serial),
            new NsRecord(Origin, 3600, DomainName.Parse("ns1.example.com")),
            new TxtRecord(DomainName.Parse("Mixed.Case.example.com"), 300, "hello \"world\""),
        }.Concat(Enumerable.Range(0, hosts).Select(i =>
            (DnsRecordBase)new ARecord(DomainName.Parse($"h{i}.example.com"), 300, IPAddress.Parse($"192.0.2.{i % 250}")))));

    private static void AssertSameZone(Zone expected, Zone actual)
    {
        var e = expected.RRsets.ToList();
        var a = actual.RRsets.ToList();
        Assert.Equal(e.Count, a.Count);
        for (int i = 0; i < e.Count; i++)
        {
            Assert.True(e[i].ContentEquals(a[i]), $"RRset {e[i]} differs from {a[i]}");
            // Owner case is preserved exactly (it matters for what is served and for IXFR deletions).
            Assert.Equal(e[i].Owner.ToString(), a[i].Owner.ToString());
        }
    }

    [Fact]
    public async Task Fresh_store_round_trips_both_versions_and_serials()
    {
        var unsigned = SampleZone(10, 50);
        var signed = SampleZone(11, 50);
        await using (var store = await SignerStore.OpenAsync(DbPath, create: true, CancellationToken.None))
        {
            Assert.Null(await store.LoadAsync(Origin, CancellationToken.None));
            await store.CommitAsync(new ZoneCommit(Origin, 10, 11, RRsetChanges.Replace(unsigned), RRsetChanges.Replace(signed), null,
                DateTimeOffset.UtcNow), CancellationToken.None);
        }
        await using (var store = await SignerStore.OpenAsync(DbPath, create: false, CancellationToken.None))
        {
            var loaded = await store.LoadAsync(Origin, CancellationToken.None);
            Assert.NotNull(loaded);
            Assert.Equal(10u, loaded.UnsignedSerial);
            Assert.Equal(11u, loaded.SignedSerial);
            AssertSameZone(unsigned, loaded.Unsigned);
            AssertSameZone(signed, loaded.Signed);
            Assert.Equal([Origin], await store.ZoneNamesAsync(CancellationToken.None));
            Assert.Equal([(11u, 10u)], await store.SerialMapAsync(Origin, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Incremental_commits_update_rrsets_and_chain_the_journal()
    {
        var v1 = SampleZone(1, 5);
        await using var store = await SignerStore.OpenAsync(DbPath, create: true, CancellationToken.None);
        await store.CommitAsync(new ZoneCommit(Origin, 1, 1, RRsetChanges.Replace(v1), RRsetChanges.Replace(v1), null, DateTimeOffset.UtcNow), CancellationToken.None);

        var newHost = RRset.Create([new ARecord(DomainName.Parse("new.example.com"), 300, IPAddress.Parse("198.51.100.1"))]);
        var soa2 = RRset.Create([Soa(2)]);
        var v2 = v1.With(newHost).With(soa2).Without(DomainName.Parse("h0.example.com"), RecordType.A);
        var changes = new RRsetChanges([newHost, soa2], [(DomainName.Parse("H0.example.com"), RecordType.A)]);
        var delta12 = new JournalDelta(1, 2, [Soa(1), v1.Find(DomainName.Parse("h0.example.com"), RecordType.A)!.Records[0]], [Soa(2), newHost.Records[0]]);
        await store.CommitAsync(new ZoneCommit(Origin, 2, 2, changes, changes, delta12, DateTimeOffset.UtcNow), CancellationToken.None);

        var soa3 = RRset.Create([Soa(3)]);
        var delta23 = new JournalDelta(2, 3, [Soa(2)], [Soa(3)]);
        await store.CommitAsync(new ZoneCommit(Origin, 3, 3, new RRsetChanges([soa3], []), new RRsetChanges([soa3], []), delta23, DateTimeOffset.UtcNow), CancellationToken.None);

        var loaded = (await store.LoadAsync(Origin, CancellationToken.None))!;
        AssertSameZone(v2.With(soa3), loaded.Signed);
        Assert.Null(loaded.Signed.Find(DomainName.Parse("h0.example.com"), RecordType.A));

        var fromOne = await store.JournalFromAsync(Origin, 1, CancellationToken.None);
        Assert.NotNull(fromOne);
        Assert.Equal([(1u, 2u), (2u, 3u)], fromOne.Select(e => (e.Delta.FromSerial, e.Delta.ToSerial)));
        Assert.Equal(2, fromOne[0].Delta.Removed.Count);
        Assert.Equal("new.example.com.", fromOne[0].Delta.Added[1].Name.ToString());
        Assert.Null(await store.JournalFromAsync(Origin, 7, CancellationToken.None));
    }

    [Fact]
    public async Task Journal_is_trimmed_oldest_first_by_size_and_age()
    {
        var v1 = SampleZone(1, 1);
        await using var store = await SignerStore.OpenAsync(DbPath, create: true, CancellationToken.None);
        var start = DateTimeOffset.UtcNow.AddDays(-30);
        await store.CommitAsync(new ZoneCommit(Origin, 1, 1, RRsetChanges.Replace(v1), RRsetChanges.Replace(v1), null, start), CancellationToken.None);
        var limits = new JournalLimits(MaxBytes: 10_000, MaxAge: TimeSpan.FromDays(7));
        for (uint s = 2; s <= 40; s++)
        {
            var soa = RRset.Create([Soa(s)]);
            var at = s <= 5 ? start.AddDays(s) : DateTimeOffset.UtcNow;
            await store.CommitAsync(new ZoneCommit(Origin, s, s, new RRsetChanges([soa], []), new RRsetChanges([soa], []),
                new JournalDelta(s - 1, s, [Soa(s - 1)], [Soa(s)]), at, limits), CancellationToken.None);
        }
        var journal = await store.JournalAsync(Origin, CancellationToken.None);
        Assert.Equal(40u, journal[^1].Delta.ToSerial);
        Assert.True(journal.Sum(e => e.Size) <= 10_000, "journal exceeds its size bound");
        Assert.DoesNotContain(journal, e => e.At < DateTimeOffset.UtcNow.AddDays(-7));
        Assert.True(journal.Count < 39, "nothing was trimmed");
        // The newest entries still chain to the current serial.
        Assert.NotNull(await store.JournalFromAsync(Origin, journal[0].Delta.FromSerial, CancellationToken.None));
    }

    [Fact]
    public async Task A_commit_that_fails_midway_leaves_the_previous_version()
    {
        var v1 = SampleZone(1, 3);
        await using var store = await SignerStore.OpenAsync(DbPath, create: true, CancellationToken.None);
        await store.CommitAsync(new ZoneCommit(Origin, 1, 1, RRsetChanges.Replace(v1), RRsetChanges.Replace(v1), null, DateTimeOffset.UtcNow), CancellationToken.None);

        var failing = new FailingList(RRset.Create([new ARecord(DomainName.Parse("x.example.com"), 300, IPAddress.Loopback)]));
        var bad = new RRsetChanges(failing, [(DomainName.Parse("h1.example.com"), RecordType.A)]);
        await Assert.ThrowsAsync<IOException>(() => store.CommitAsync(
            new ZoneCommit(Origin, 2, 2, bad, bad, new JournalDelta(1, 2, [Soa(1)], [Soa(2)]), DateTimeOffset.UtcNow), CancellationToken.None));

        var loaded = (await store.LoadAsync(Origin, CancellationToken.None))!;
        Assert.Equal(1u, loaded.SignedSerial);
        AssertSameZone(v1, loaded.Signed);
        Assert.Empty(await store.JournalAsync(Origin, CancellationToken.None));
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_a_clear_error_and_is_left_untouched()
    {
        var garbage = new byte[8192];
        new Random(7).NextBytes(garbage);
        await File.WriteAllBytesAsync(DbPath, garbage);
        var e = await Assert.ThrowsAsync<StoreCorruptException>(() => SignerStore.OpenAsync(DbPath, create: true, CancellationToken.None));
        Assert.Contains(DbPath, e.Message);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(DbPath));
    }

    [Fact]
    public async Task A_damaged_database_page_is_detected_at_open()
    {
        var big = SampleZone(1, 3000);
        await using (var store = await SignerStore.OpenAsync(DbPath, create: true, CancellationToken.None))
            await store.CommitAsync(new ZoneCommit(Origin, 1, 1, RRsetChanges.Replace(big), RRsetChanges.Replace(big), null, DateTimeOffset.UtcNow), CancellationToken.None);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        // Fold the WAL into the main file, then scribble over a page in the middle of it.
        await using (var checkpoint = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            await checkpoint.OpenAsync();
            using var command = checkpoint.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            await command.ExecuteNonQueryAsync();
        }
        var bytes = await File.ReadAllBytesAsync(DbPath);
        Assert.True(bytes.Length > 64 * 1024);
        for (int i = bytes.Length / 2; i < bytes.Length / 2 + 4096; i++) bytes[i] = 0x5A;
        await File.WriteAllBytesAsync(DbPath, bytes);
        var e = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var store = await SignerStore.OpenAsync(DbPath, create: false, CancellationToken.None);
            await store.LoadAsync(Origin, CancellationToken.None);
        });
        Assert.IsType<StoreCorruptException>(e);
        Assert.Contains(DbPath, e.Message);
    }

    [Fact]
    public async Task Opening_a_missing_store_without_create_fails()
    {
        await Assert.ThrowsAsync<FileNotFoundException>(() => SignerStore.OpenAsync(DbPath, create: false, CancellationToken.None));
        Assert.False(File.Exists(DbPath));
    }

    [Fact]
    public void Record_blob_decoder_rejects_truncated_and_random_bytes_with_a_typed_error()
    {
        var good = RecordBlob.EncodeRecords(SampleZone(1, 3).Records);
        for (int cut = 0; cut < good.Length; cut += 7)
            Assert.Throws<StoreCorruptException>(() => RecordBlob.DecodeRecords(good[..cut], "test"));
        var random = new Random(1);
        for (int i = 0; i < 500; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            if (bytes.Length > 0) bytes[0] = 1;
            try { RecordBlob.DecodeRecords(bytes, "test"); }
            catch (StoreCorruptException) { }
        }
    }

    /// <summary>A list whose enumeration fails after its first item, to break a commit midway.</summary>
    private sealed class FailingList(RRset first) : IReadOnlyList<RRset>
    {
        public RRset this[int index] => index == 0 ? first : throw new IOException("disk on fire");
        public int Count => 2;
        public IEnumerator<RRset> GetEnumerator()
        {
            yield return first;
            throw new IOException("disk on fire");
        }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
