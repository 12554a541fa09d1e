using InlineSigner.Tests.Shared;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared.Dns;
using InlineSigner.Protocol.Wire;
using InlineSigner.Zones;

namespace InlineSigner.Protocol.Tests;

/// <summary>
/// The transfer client against a scripted primary that misbehaves in every way a real one does not: each case must end
/// in a <see cref="ZoneTransferException"/> with the right failure and a clear message, quickly, never another exception
/// and never a hang.
/// </summary>
public sealed class FakePrimaryTests
{
    private static readonly DomainName Zone = DomainName.Parse("fake.test");
    /// <summary>
    /// For exchanges that must end otherwise than by timing out (an answer, a close, a malformed message): generous, as
    /// a loaded machine can be slow to start the fake server's loop or JIT the client, and a 2 s budget there turned
    /// "ConnectionClosed" into "Timeout". Cases that test the timeout pass their own short one. It stays above the 15 s
    /// that <see cref="AxfrFails"/> allows, so a transfer that hangs until its timeout still fails there.
    /// </summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly SoaRecord Soa = Soa5(5);
    private static readonly IReadOnlyList<DnsRecordBase> Body = Messages.Records(Zone, "@ 300 NS ns1\nns1 300 A 192.0.2.1\nwww 300 A 192.0.2.2\nwww 300 AAAA 2001:db8::2\nmail 300 MX 10 www");

    private static SoaRecord Soa5(uint serial) =>
        new(Zone, 300, DomainName.Parse("ns1.fake.test"), DomainName.Parse("hostmaster.fake.test"), serial, 3600, 600, 86400, 60);

    private static byte[] Answer(FakeConnection c, IEnumerable<DnsRecordBase> records, bool question = true, ushort flags = Messages.ResponseFlags, RecordType type = RecordType.Axfr) =>
        Messages.Response(c.RequestId, question ? Zone : null, type, records, flags);

    private static async Task<ZoneTransferException> AxfrFails(Func<FakeConnection, Task> script, ZoneTransferLimits? limits = null, TimeSpan? timeout = null, TsigKey? key = null)
    {
        await using var primary = new FakeServer(script);
        var client = new ZoneTransferClient(limits);
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => client.AxfrAsync(primary.Endpoint, Zone, key, timeout ?? Timeout, CancellationToken.None));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.StartsWith($"AXFR of fake.test. from {primary.Endpoint}: ", e.Message, StringComparison.Ordinal);
        Assert.True(CanonicalNameComparer.Instance.Equals(Zone, e.Zone));
        Assert.Equal(primary.Endpoint, e.Server);
        return e;
    }

    [Fact]
    public async Task A_well_formed_AXFR_in_several_messages_is_accepted_and_the_request_is_right()
    {
        byte[]? request = null;
        await using var primary = new FakeServer(async c =>
        {
            request = c.Request;
            await c.SendAsync(Answer(c, [Soa, Body[0], Body[1]]));
            await c.SendAsync(Answer(c, [Body[2]], question: false));
            await c.SendAsync(Answer(c, [Body[3], Body[4], Soa], question: false));
        });
        var records = await new ZoneTransferClient().AxfrAsync(primary.Endpoint, Zone, null, Timeout, CancellationToken.None);
        Assert.Equal(Messages.Set([Soa, .. Body]), Messages.Set(records));
        Assert.Same(typeof(SoaRecord), records[0].GetType());

        var reader = new MessageReader(request!, request!.Length);
        Assert.False(reader.Header.IsResponse);
        Assert.Equal(OperationCode.Query, reader.Header.OperationCode);
        var (name, type, recordClass) = reader.ReadQuestion();
        Assert.True(CanonicalNameComparer.Instance.Equals(Zone, name));
        Assert.Equal(RecordType.Axfr, type);
        Assert.Equal(RecordClass.INet, recordClass);
    }

    [Fact]
    public async Task A_stream_closed_before_the_closing_SOA_is_ConnectionClosed()
    {
        var e = await AxfrFails(async c => await c.SendAsync(Answer(c, [Soa, .. Body])));
        Assert.Equal(DnsFailure.ConnectionClosed, e.Failure);
        Assert.Contains("after 6 records, before the closing SOA", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_with_another_ID_is_Malformed()
    {
        var e = await AxfrFails(async c =>
        {
            await c.SendAsync(Answer(c, [Soa, Body[0]]));
            var second = Answer(c, [Body[1], Soa], question: false);
            BinaryPrimitives.WriteUInt16BigEndian(second, (ushort)(c.RequestId + 1));
            await c.SendAsync(second);
        });
        Assert.Equal(DnsFailure.Malformed, e.Failure);
        Assert.Contains("message 2 has ID", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, DnsFailure.ServerError, "SERVFAIL")]
    [InlineData(5, DnsFailure.Refused, "REFUSED")]
    [InlineData(9, DnsFailure.NotAuthoritative, "NOTAUTH")]
    [InlineData(4, DnsFailure.ServerError, "NOTIMP")]
    public async Task An_error_RCODE_is_reported_by_name(int rcode, DnsFailure failure, string text)
    {
        var e = await AxfrFails(c => c.SendAsync(Answer(c, [], flags: (ushort)(0x8000 | rcode))));
        Assert.Equal(failure, e.Failure);
        Assert.Equal((ReturnCode)rcode, e.ReturnCode);
        Assert.Contains(text, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_RCODE_in_a_later_message_is_reported_too()
    {
        var e = await AxfrFails(async c =>
        {
            await c.SendAsync(Answer(c, [Soa, Body[0]]));
            await c.SendAsync(Answer(c, [], question: false, flags: 0x8002));
        });
        Assert.Equal(DnsFailure.ServerError, e.Failure);
    }

    [Fact]
    public async Task Garbage_is_Malformed()
    {
        var random = new Random(3);
        var noise = new byte[200];
        random.NextBytes(noise);
        var e = await AxfrFails(c => c.SendAsync(noise));
        Assert.Equal(DnsFailure.Malformed, e.Failure);

        // A correct header over garbage.
        var e2 = await AxfrFails(c =>
        {
            var message = Answer(c, [Soa, Body[0]]);
            random.NextBytes(message.AsSpan(12));
            message[12] = 0xC0; // a compression pointer to the header: forward-pointing is caught, this one loops into the header
            message[13] = 0x0C;
            return c.SendAsync(message);
        });
        Assert.Equal(DnsFailure.Malformed, e2.Failure);
        Assert.Contains("unreadable answer", e2.Message, StringComparison.Ordinal);

        // Shorter than a header.
        var e3 = await AxfrFails(c => c.SendAsync([1, 2, 3]));
        Assert.Equal(DnsFailure.Malformed, e3.Failure);
        Assert.Contains("shorter than a DNS header", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversize_length_prefix_followed_by_a_close_or_silence_fails_in_time()
    {
        var closed = await AxfrFails(async c =>
        {
            await c.SendRawAsync([0xFF, 0xFF]);
            await c.SendRawAsync(new byte[100]);
        });
        Assert.Equal(DnsFailure.ConnectionClosed, closed.Failure);
        Assert.Contains("after 100 of the 65535 octets", closed.Message, StringComparison.Ordinal);

        var silent = await AxfrFails(async c =>
        {
            await c.SendRawAsync([0xFF, 0xFF, 1, 2, 3]);
            await c.HangAsync();
        }, timeout: TimeSpan.FromSeconds(1));
        Assert.Equal(DnsFailure.Timeout, silent.Failure);
        Assert.Contains("no complete message arrived within 1 s", silent.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closing_SOA_unlike_the_opening_one_is_SoaMismatch()
    {
        var e = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, .. Body, Soa5(6)])));
        Assert.Equal(DnsFailure.SoaMismatch, e.Failure);
        Assert.Contains("closing SOA (serial 6) differs from the opening SOA (serial 5)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_outside_the_zone_are_refused()
    {
        var outside = Messages.Records(DomainName.Parse("example.org"), "www 300 A 192.0.2.66");
        var e = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, outside[0], Soa])));
        Assert.Equal(DnsFailure.OutOfZone, e.Failure);
        Assert.Contains("www.example.org.", e.Message, StringComparison.Ordinal);
        // A name that merely ends in the zone's text is outside too.
        var lookalike = Messages.Records(DomainName.Parse("notfake.test"), "@ 300 A 192.0.2.66");
        Assert.Equal(DnsFailure.OutOfZone, (await AxfrFails(c => c.SendAsync(Answer(c, [Soa, lookalike[0], Soa])))).Failure);
    }

    [Fact]
    public async Task Out_of_order_streams_are_Malformed()
    {
        var notSoaFirst = await AxfrFails(c => c.SendAsync(Answer(c, [Body[1], Soa, Soa])));
        Assert.Equal(DnsFailure.Malformed, notSoaFirst.Failure);
        Assert.Contains("the first record is ns1.fake.test. A, not the zone's SOA", notSoaFirst.Message, StringComparison.Ordinal);

        var afterEnd = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, Body[0], Soa, Body[1]])));
        Assert.Equal(DnsFailure.Malformed, afterEnd.Failure);
        Assert.Contains("1 records follow the final SOA", afterEnd.Message, StringComparison.Ordinal);

        var wrongQuestion = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, Soa], type: RecordType.A)));
        Assert.Contains("question", wrongQuestion.Message, StringComparison.Ordinal);

        var truncatedBit = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, Soa], flags: 0x8600)));
        Assert.Contains("TC bit", truncatedBit.Message, StringComparison.Ordinal);

        var query = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, Soa], flags: 0x0400)));
        Assert.Contains("not a response", query.Message, StringComparison.Ordinal);

        var soaElsewhere = Messages.Records(Zone, "sub 300 SOA ns1 hostmaster 1 2 3 4 5");
        Assert.Contains("not the zone's apex", (await AxfrFails(c => c.SendAsync(Answer(c, [Soa, soaElsewhere[0], Soa])))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_answer_times_out_and_a_closed_port_is_a_network_error()
    {
        var silent = await AxfrFails(c => c.HangAsync(), timeout: TimeSpan.FromMilliseconds(500));
        Assert.Equal(DnsFailure.Timeout, silent.Failure);

        var closedAtOnce = await AxfrFails(_ => Task.CompletedTask);
        Assert.Equal(DnsFailure.ConnectionClosed, closedAtOnce.Failure);

        int port = FreePorts.Get();
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        var refused = await Assert.ThrowsAsync<ZoneTransferException>(() => new ZoneTransferClient().AxfrAsync(endpoint, Zone, null, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.Network, refused.Failure);
        Assert.Contains("ConnectionRefused", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Limits_on_records_bytes_and_duration_hold()
    {
        var many = Enumerable.Range(0, 50).SelectMany(i => Messages.Records(Zone, $"h{i} 300 A 192.0.2.{i}")).ToList();
        var records = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, .. many, Soa])), new ZoneTransferLimits { MaxRecords = 20 });
        Assert.Equal(DnsFailure.LimitExceeded, records.Failure);
        Assert.Contains("limit of 20 records", records.Message, StringComparison.Ordinal);

        var bytes = await AxfrFails(async c =>
        {
            await c.SendAsync(Answer(c, [Soa, .. many.Take(25)]));
            await c.SendAsync(Answer(c, [.. many.Skip(25), Soa], question: false));
        }, new ZoneTransferLimits { MaxBytes = 1000 });
        Assert.Equal(DnsFailure.LimitExceeded, bytes.Failure);
        Assert.Contains("limit of 1000 octets", bytes.Message, StringComparison.Ordinal);

        // A primary that drips one small message every 200 ms forever: each wait is short, the whole is bounded.
        var drip = await AxfrFails(async c =>
        {
            await c.SendAsync(Answer(c, [Soa]));
            for (int i = 0; ; i++)
            {
                await Task.Delay(200, c.Stopping);
                await c.SendAsync(Answer(c, [many[i % many.Count]], question: false));
            }
        }, new ZoneTransferLimits { MaxDuration = TimeSpan.FromSeconds(1.5) });
        Assert.Equal(DnsFailure.Timeout, drip.Failure);
        Assert.Contains("longer than its limit", drip.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_callers_cancellation_is_a_cancellation_not_a_transfer_error()
    {
        await using var primary = new FakeServer(c => c.HangAsync());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new ZoneTransferClient().AxfrAsync(primary.Endpoint, Zone, null, TimeSpan.FromSeconds(30), cancel.Token));
    }

    [Fact]
    public async Task Records_are_kept_byte_for_byte_and_compressed_names_are_expanded()
    {
        // TXT with octets above 127 (ARSoft's text decoding would turn them into '?'), and a message with compression
        // pointers in owners and in SOA/MX RDATA, as BIND sends.
        var txt = new UnknownRecord(DomainName.Parse("txt.fake.test"), RecordType.Txt, RecordClass.INet, 300, [4, 0xC3, 0xA9, 0x80, 0xFF]);
        await using var primary = new FakeServer(async c =>
        {
            await c.SendAsync(CompressedMessage(c.RequestId));
            await c.SendAsync(Answer(c, [txt, Soa], question: false));
        });
        var records = await new ZoneTransferClient().AxfrAsync(primary.Endpoint, Zone, null, Timeout, CancellationToken.None);
        var kept = records.Single(r => r.RecordType == RecordType.Txt);
        Assert.Equal(new byte[] { 4, 0xC3, 0xA9, 0x80, 0xFF }, RecordWire.RData(kept));
        var soa = Assert.IsType<SoaRecord>(records[0]);
        Assert.Equal("ns1.fake.test.", soa.MasterName.ToString());
        Assert.Equal("hostmaster.fake.test.", soa.ResponsibleName.ToString());
        var mx = Assert.IsType<MxRecord>(records.Single(r => r.RecordType == RecordType.Mx));
        Assert.Equal("mail.fake.test.", mx.ExchangeDomainName.ToString());
        Assert.Equal("www.fake.test.", records.Single(r => r.RecordType == RecordType.A).Name.ToString());
    }

    /// <summary>Question fake.test AXFR; answers SOA (names compressed against the question), www A, @ MX mail.</summary>
    private static byte[] CompressedMessage(ushort id)
    {
        var m = new List<byte> { (byte)(id >> 8), (byte)id, 0x84, 0x00, 0, 1, 0, 3, 0, 0, 0, 0 };
        m.AddRange(RecordWire.Name(Zone, false)); // at 12
        m.AddRange([0, 252, 0, 1]);
        void Rr(byte[] owner, ushort type, byte[] rdata)
        {
            m.AddRange(owner);
            m.AddRange([(byte)(type >> 8), (byte)type, 0, 1, 0, 0, 1, 44, (byte)(rdata.Length >> 8), (byte)rdata.Length]);
            m.AddRange(rdata);
        }
        byte[] zonePointer = [0xC0, 12];
        Rr(zonePointer, 6, [3, (byte)'n', (byte)'s', (byte)'1', 0xC0, 12, 10, .. "hostmaster"u8, 0xC0, 12, 0, 0, 0, 5, 0, 0, 14, 16, 0, 0, 2, 88, 0, 1, 81, 128, 0, 0, 0, 60]);
        Rr([3, (byte)'w', (byte)'w', (byte)'w', 0xC0, 12], 1, [192, 0, 2, 2]);
        Rr(zonePointer, 15, [0, 10, 4, .. "mail"u8, 0xC0, 12]);
        return [.. m];
    }

    [Fact]
    public void Pointer_loops_and_forward_pointers_are_errors_not_hangs()
    {
        // A name that points to itself, one that points forward, one that loops through a label.
        byte[] self = [0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1];
        Assert.Contains("points forward", Assert.Throws<DnsFormatException>(() => new MessageReader(self, self.Length).ReadQuestion()).Message, StringComparison.Ordinal);
        byte[] loop = [0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, (byte)'a', 0xC0, 12, 0, 1, 0, 1];
        Assert.Contains("longer than 255", Assert.Throws<DnsFormatException>(() => new MessageReader(loop, loop.Length).ReadQuestion()).Message, StringComparison.Ordinal);
        byte[] high = [0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0xE9, 0, 0, 1, 0, 1];
        Assert.Contains("above 127", Assert.Throws<DnsFormatException>(() => new MessageReader(high, high.Length).ReadQuestion()).Message, StringComparison.Ordinal);
        byte[] extended = [0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 0, 0, 1, 0, 1];
        Assert.Contains("label type", Assert.Throws<DnsFormatException>(() => new MessageReader(extended, extended.Length).ReadQuestion()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Random_streams_only_ever_fail_with_ZoneTransferException()
    {
        var random = new Random(11);
        var good = Messages.Response(0, Zone, RecordType.Axfr, [Soa, .. Body, Soa]);
        for (int round = 0; round < 60; round++)
        {
            int seed = random.Next();
            await using var primary = new FakeServer(async c =>
            {
                var r = new Random(seed);
                var message = (byte[])good.Clone();
                BinaryPrimitives.WriteUInt16BigEndian(message, c.RequestId);
                for (int i = 0; i < 1 + r.Next(4); i++) message[12 + r.Next(message.Length - 12)] = (byte)r.Next(256);
                await c.SendAsync(message[..(12 + r.Next(message.Length - 11))]);
            });
            try
            {
                await new ZoneTransferClient().AxfrAsync(primary.Endpoint, Zone, null, TimeSpan.FromSeconds(1), CancellationToken.None);
            }
            catch (ZoneTransferException)
            {
                // the only acceptable failure
            }
        }
    }

    // IXFR answers (RFC 1995 §4) that are wrong in the ways a broken journal makes them.

    private static async Task<ZoneTransferException> IxfrFails(uint ours, params DnsRecordBase[] answer)
    {
        await using var primary = new FakeServer(c => c.SendAsync(Answer(c, answer, type: RecordType.Ixfr)));
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => new ZoneTransferClient().IxfrAsync(primary.Endpoint, Zone, ours, null, Timeout, CancellationToken.None));
        Assert.StartsWith("IXFR of fake.test. from ", e.Message, StringComparison.Ordinal);
        return e;
    }

    private static async Task<IxfrResult> Ixfr(uint ours, params DnsRecordBase[] answer)
    {
        byte[]? request = null;
        await using var primary = new FakeServer(c =>
        {
            request = c.Request;
            return c.SendAsync(Answer(c, answer, type: RecordType.Ixfr));
        });
        var result = await new ZoneTransferClient().IxfrAsync(primary.Endpoint, Zone, ours, null, Timeout, CancellationToken.None);
        // RFC 1995 §3: our serial rides in the authority section.
        var reader = new MessageReader(request!, request!.Length);
        Assert.Equal(1, reader.Header.AuthorityCount);
        reader.ReadQuestion();
        Assert.Equal(ours, Assert.IsType<SoaRecord>(reader.ReadRecord()).SerialNumber);
        return result;
    }

    [Fact]
    public async Task Well_formed_IXFR_answers_of_each_kind()
    {
        var a = Body[1];
        var b = Body[2];
        var inc = Assert.IsType<IxfrResult.Incremental>(await Ixfr(3, Soa5(5), Soa5(3), a, Soa5(4), b, Soa5(4), Soa5(5), a, Soa5(5)));
        Assert.Equal(2, inc.Deltas.Count);
        Assert.Equal([a], inc.Deltas[0].Deleted);
        Assert.Equal([b], inc.Deltas[0].Added);
        Assert.Empty(inc.Deltas[1].Deleted);
        Assert.Equal([a], inc.Deltas[1].Added);

        Assert.IsType<IxfrResult.UpToDate>(await Ixfr(5, Soa5(5)));
        Assert.IsType<IxfrResult.UpToDate>(await Ixfr(9, Soa5(5)));
        Assert.IsType<IxfrResult.UpToDate>(await Ixfr(5u + 0x80000000u, Soa5(5))); // 2^31 apart: not newer, nothing to fetch
        var full = Assert.IsType<IxfrResult.Full>(await Ixfr(1, Soa5(5), a, b, Soa5(5)));
        Assert.Equal([Soa5(5), a, b], full.Records, (x, y) => Messages.Key(x) == Messages.Key(y));
    }

    [Fact]
    public async Task Broken_IXFR_answers_are_named()
    {
        var a = Body[1];
        Assert.Contains("serials do not chain: a delta ends at 4 and the next starts at 6",
            (await IxfrFails(3, Soa5(7), Soa5(3), a, Soa5(4), Soa5(6), Soa5(7), Soa5(7))).Message, StringComparison.Ordinal);
        Assert.Contains("the first delta starts at serial 2, but we asked from 3",
            (await IxfrFails(3, Soa5(5), Soa5(2), Soa5(5), Soa5(5))).Message, StringComparison.Ordinal);
        Assert.Contains("from serial 4 to 3, which is not newer",
            (await IxfrFails(3, Soa5(5), Soa5(3), Soa5(4), Soa5(4), Soa5(3))).Message, StringComparison.Ordinal);
        Assert.Contains("beyond the primary's current 5",
            (await IxfrFails(3, Soa5(5), Soa5(3), Soa5(9))).Message, StringComparison.Ordinal);
        Assert.Contains("short of the primary's current 5",
            (await IxfrFails(3, Soa5(5), Soa5(3), a, Soa5(4), Soa5(5))).Message, StringComparison.Ordinal);

        var unfinished = await IxfrFails(3, Soa5(5), Soa5(3), a, Soa5(5), a);
        Assert.Equal(DnsFailure.ConnectionClosed, unfinished.Failure);
        Assert.Contains("before the final SOA", unfinished.Message, StringComparison.Ordinal);

        var onlySoa = await IxfrFails(3, Soa5(5));
        Assert.Equal(DnsFailure.IxfrUnavailable, onlySoa.Failure);
        Assert.Contains("only its SOA (serial 5, newer than our 3)", onlySoa.Message, StringComparison.Ordinal);

        var extra = await IxfrFails(5, Soa5(5), a);
        Assert.Contains("1 records follow the final SOA", extra.Message, StringComparison.Ordinal);

        var mismatch = await IxfrFails(3, Soa5(5), Soa5(3), Soa5(5), a, new SoaRecord(Zone, 300, DomainName.Parse("other.fake.test"), DomainName.Parse("hostmaster.fake.test"), 5, 3600, 600, 86400, 60));
        Assert.Equal(DnsFailure.SoaMismatch, mismatch.Failure);

        Assert.Equal(DnsFailure.SoaMismatch, (await IxfrFails(1, Soa5(5), a, Soa5(4))).Failure);
    }

    // TSIG across a stream, with a primary that signs through our TsigServer.

    [Fact]
    public async Task A_stream_signed_on_some_messages_verifies_and_one_ending_unsigned_fails()
    {
        using var key = TsigKey.Parse("hmac-sha256:xfr-key:" + Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i * 7)).ToArray()));
        var keys = new Dictionary<DomainName, TsigKey> { [key.Name] = key };
        var many = Enumerable.Range(0, 30).SelectMany(i => Messages.Records(Zone, $"h{i} 300 A 192.0.2.{i}")).ToList();

        async Task Script(FakeConnection c, bool signLast)
        {
            var check = TsigServer.Verify(c.Request, c.Request.Length, keys, DateTimeOffset.UtcNow);
            Assert.True(check!.Verified);
            var messages = new List<byte[]> { Answer(c, [Soa]) };
            messages.AddRange(many.Select(r => Answer(c, [r], question: false)));
            messages.Add(Answer(c, [Soa], question: false));
            for (int i = 0; i < messages.Count; i++)
            {
                bool last = i == messages.Count - 1;
                if (i % 7 == 0 || (last && signLast))
                {
                    var buffer = new byte[messages[i].Length + check.Signer!.MaxTsigLength];
                    messages[i].CopyTo(buffer, 0);
                    await c.SendAsync(buffer[..check.Signer.Sign(buffer, messages[i].Length)]);
                }
                else
                {
                    check.Signer!.AppendUnsigned(messages[i]);
                    await c.SendAsync(messages[i]);
                }
            }
        }

        await using (var primary = new FakeServer(c => Script(c, signLast: true)))
        {
            var records = await new ZoneTransferClient().AxfrAsync(primary.Endpoint, Zone, key, Timeout, CancellationToken.None);
            Assert.Equal(31, records.Count);
        }
        var e = await AxfrFails(c => Script(c, signLast: false), key: key);
        Assert.Equal(DnsFailure.Tsig, e.Failure);
        Assert.Contains("last message of the response is not signed", e.Message, StringComparison.Ordinal);

        // An unsigned answer to a signed request.
        var unsigned = await AxfrFails(c => c.SendAsync(Answer(c, [Soa, Soa])), key: key);
        Assert.Equal(DnsFailure.Tsig, unsigned.Failure);
        Assert.Contains("not signed", unsigned.Message, StringComparison.Ordinal);
        // An unsigned refusal is reported as the refusal it is.
        var refused = await AxfrFails(c => c.SendAsync(Answer(c, [], flags: 0x8005)), key: key);
        Assert.Equal(DnsFailure.Refused, refused.Failure);
        Assert.Contains("REFUSED without a verifiable TSIG signature", refused.Message, StringComparison.Ordinal);
    }

    // SOA query and NOTIFY over UDP.

    [Fact]
    public async Task SOA_query_falls_back_to_TCP_when_truncated_and_requires_AA()
    {
        var udpQueries = 0;
        await using var primary = new FakeServer(
            c => c.SendAsync(Answer(c, [Soa], type: RecordType.Soa)),
            udp =>
            {
                udpQueries++;
                return Messages.Response(BinaryPrimitives.ReadUInt16BigEndian(udp), Zone, RecordType.Soa, [], 0x8600); // TC
            });
        var soa = await new ZoneTransferClient().SoaQueryAsync(primary.Endpoint, Zone, null, Timeout, CancellationToken.None);
        Assert.Equal(5u, soa.SerialNumber);
        Assert.Equal(1, udpQueries);
        Assert.Equal(1, primary.Connections);

        await using var notAuthoritative = new FakeServer(c => c.HangAsync(),
            udp => Messages.Response(BinaryPrimitives.ReadUInt16BigEndian(udp), Zone, RecordType.Soa, [Soa], 0x8000));
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => new ZoneTransferClient().SoaQueryAsync(notAuthoritative.Endpoint, Zone, null, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.NotAuthoritative, e.Failure);
        Assert.Contains("AA bit", e.Message, StringComparison.Ordinal);

        await using var stale = new FakeServer(c => c.HangAsync(), udp =>
            Messages.Response((ushort)(BinaryPrimitives.ReadUInt16BigEndian(udp) + 1), Zone, RecordType.Soa, [Soa])); // wrong ID: ignored
        var timeout = await Assert.ThrowsAsync<ZoneTransferException>(() => new ZoneTransferClient().SoaQueryAsync(stale.Endpoint, Zone, null, TimeSpan.FromMilliseconds(500), CancellationToken.None));
        Assert.Equal(DnsFailure.Timeout, timeout.Failure);

        await using var empty = new FakeServer(c => c.HangAsync(), udp => Messages.Response(BinaryPrimitives.ReadUInt16BigEndian(udp), Zone, RecordType.Soa, []));
        Assert.Contains("no SOA record", (await Assert.ThrowsAsync<ZoneTransferException>(() =>
            new ZoneTransferClient().SoaQueryAsync(empty.Endpoint, Zone, null, Timeout, CancellationToken.None))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NOTIFY_carries_opcode_AA_and_the_SOA_and_waits_for_the_matching_answer()
    {
        byte[]? received = null;
        await using var secondary = new FakeServer(c => c.HangAsync(), udp =>
        {
            received = udp;
            var answer = Messages.Response(BinaryPrimitives.ReadUInt16BigEndian(udp), Zone, RecordType.Soa, [], 0x8000 | (4 << 11) | 0x0400);
            return answer;
        });
        var code = await new NotifySender().SendNotifyAsync(secondary.Endpoint, Zone, Soa, null, Timeout, CancellationToken.None);
        Assert.Equal(ReturnCode.NoError, code);
        var reader = new MessageReader(received!, received!.Length);
        Assert.Equal(OperationCode.Notify, reader.Header.OperationCode);
        Assert.True(reader.Header.IsAuthoritative);
        Assert.False(reader.Header.IsResponse);
        var (name, type, _) = reader.ReadQuestion();
        Assert.True(CanonicalNameComparer.Instance.Equals(Zone, name));
        Assert.Equal(RecordType.Soa, type);
        Assert.Equal(1, reader.Header.AnswerCount);
        Assert.Equal(5u, Assert.IsType<SoaRecord>(reader.ReadRecord()).SerialNumber);

        // A QUERY-opcode answer with the right ID is not the answer: the sender keeps waiting, then times out.
        await using var confused = new FakeServer(c => c.HangAsync(), udp => Messages.Response(BinaryPrimitives.ReadUInt16BigEndian(udp), Zone, RecordType.Soa, []));
        var e = await Assert.ThrowsAsync<NotifyException>(() => new NotifySender().SendNotifyAsync(confused.Endpoint, Zone, Soa, null, TimeSpan.FromMilliseconds(500), CancellationToken.None));
        Assert.Equal(DnsFailure.Timeout, e.Failure);
        Assert.Contains($"NOTIFY for fake.test. to {confused.Endpoint}", e.Message, StringComparison.Ordinal);

        await Assert.ThrowsAsync<ArgumentException>(() => new NotifySender().SendNotifyAsync(secondary.Endpoint, DomainName.Parse("other.test"), Soa, null, Timeout, CancellationToken.None));
    }
}

/// <summary>The message reader on mutated messages: whatever the octets, only <see cref="DnsFormatException"/> escapes.</summary>
public sealed class MessageReaderFuzzTests
{
    [Fact]
    public void Mutated_messages_fail_only_with_DnsFormatException()
    {
        var zone = DomainName.Parse("fuzz.test");
        var records = Messages.Records(zone, """
            @ 300 SOA ns1 hostmaster 5 3600 600 86400 60
            @ 300 MX 10 mail
            mail 300 A 192.0.2.1
            www 300 AAAA 2001:db8::1
            txt 300 TXT "a" "b"
            srv 300 SRV 1 2 3 www
            naptr 300 NAPTR 10 20 "s" "SIP+D2U" "" _sip._udp
            rp 300 RP hostmaster txt
            ds 300 DS 12345 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789
            """);
        var good = Messages.Response(1, zone, RecordType.Axfr, records);
        var random = new Random(5);
        int failures = 0;
        for (int round = 0; round < 20000; round++)
        {
            var message = (byte[])good.Clone();
            for (int i = 0; i < 1 + random.Next(3); i++) message[random.Next(message.Length)] = (byte)random.Next(256);
            int length = random.Next(4) == 0 ? random.Next(message.Length + 1) : message.Length;
            try
            {
                var reader = new MessageReader(message, length);
                for (int i = 0; i < reader.Header.QuestionCount; i++) reader.ReadQuestion();
                for (int i = 0; i < reader.Header.AnswerCount; i++) reader.ReadRecord();
            }
            catch (DnsFormatException)
            {
                failures++;
            }
        }
        Assert.True(failures > 1000, $"only {failures} of 20000 mutations were caught: the mutations are too weak to test anything");
    }
}
