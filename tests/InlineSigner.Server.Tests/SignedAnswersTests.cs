using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using InlineSigner.Server.Tests.Support;
using InlineSigner.Tests.Shared;
using static InlineSigner.Server.Tests.Support.SecondariesFixture;

namespace InlineSigner.Server.Tests;

/// <summary>
/// What clients see of the running daemon (the same one the secondaries follow): signed authoritative answers that
/// delv validates from our KSK, the Prometheus counters moving with what was asked, and a DNS service that outlives
/// malformed packets.
/// </summary>
[Collection(SecondariesCollection.Name)]
public sealed class SignedAnswersTests(SecondariesFixture fixture)
{
    [Theory]
    [InlineData(MainZone, "mail.example.com", "A", "fully validated")]                             // positive
    [InlineData(MainZone, "nothere.example.com", "A", "negative response, fully validated")]        // NXDOMAIN (NSEC)
    [InlineData(MainZone, "mail.example.com", "AAAA", "negative response, fully validated")]        // NODATA (NSEC)
    [InlineData(MainZone, "x.wild.example.com", "TXT", "fully validated")]                          // wildcard expansion
    [InlineData(TsigZone, "www.tsig.example", "AAAA", "fully validated")]                        // positive (NSEC3)
    [InlineData(TsigZone, "a.nothere.tsig.example", "A", "negative response, fully validated")]  // NXDOMAIN (NSEC3)
    [InlineData(TsigZone, "www.tsig.example", "TXT", "negative response, fully validated")]      // NODATA (NSEC3)
    public async Task Delv_validates_answers_from_our_ksk(string root, string name, string type, string expected)
    {
        var result = await ExternalTool.RunAsync("delv",
            ["@127.0.0.1", "-p", fixture.Signer.DnsPort.ToString(CultureInfo.InvariantCulture), "-a", fixture.TrustAnchors, "+root=" + root, name, type],
            timeout: TimeSpan.FromSeconds(60));
        Assert.True(result.All.Contains("; " + expected, StringComparison.Ordinal), $"delv {name} {type}:\n{result.All}");
        Assert.DoesNotMatch("resolution failed: (?!ncache)", result.All); // negative answers end with "ncache nxdomain/nxrrset"
    }

    [Fact]
    public async Task Dig_gets_authoritative_signed_answers_without_the_AD_bit()
    {
        var positive = await fixture.Signer.Dig("+dnssec", "mail.example.com", "A");
        Assert.Contains("status: NOERROR", positive.Output, StringComparison.Ordinal);
        // An authoritative server answers with AA and never claims AD (it validated nothing); +norec keeps RD clear.
        Assert.Matches(@"flags: qr aa; QUERY: 1, ANSWER: 2,", positive.Output);
        Assert.Matches(@"mail\.example\.com\.\s+300\s+IN\s+RRSIG\s+A 15 3 300 ", positive.Output);
        Assert.Contains("EDNS: version: 0, flags: do;", positive.Output, StringComparison.Ordinal);

        var negative = await fixture.Signer.Dig("+dnssec", "nothere.example.com", "A");
        Assert.Contains("status: NXDOMAIN", negative.Output, StringComparison.Ordinal);
        Assert.Matches(@"flags: qr aa;", negative.Output);
        Assert.Matches(@"\s+IN\s+RRSIG\s+NSEC 15 ", negative.Output);
        Assert.Matches(@"\s+IN\s+RRSIG\s+SOA 15 ", negative.Output);

        var nsec3 = await fixture.Signer.Dig("+dnssec", "nothere.tsig.example", "A");
        Assert.Contains("status: NXDOMAIN", nsec3.Output, StringComparison.Ordinal);
        Assert.Matches(@"flags: qr aa;", nsec3.Output);
        Assert.Matches(@"\s+IN\s+NSEC3\s+1 0 0 - ", nsec3.Output);

        // Without DO: the data only, no signatures.
        var plain = await fixture.Signer.Dig("mail.example.com", "A");
        Assert.Matches(@"flags: qr aa; QUERY: 1, ANSWER: 1,", plain.Output);
        Assert.DoesNotContain("RRSIG", plain.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_count_queries_by_type_and_rcode_transfers_by_type_notify_and_signatures_by_key()
    {
        var before = await fixture.Signer.MetricsAsync();
        var server = fixture.Signer.DnsEndpoint;
        var timeout = TimeSpan.FromSeconds(10);
        ushort id = 0x4000;
        async Task<RawResponse> Udp(string name, ushort type) =>
            RawResponse.Read(await RawDns.UdpAsync(server, RawDns.Query(id++, name, type, dnssecOk: true), timeout) ?? throw new TimeoutException($"no UDP answer for {name}"));
        async Task<RawResponse> Tcp(string name, ushort type) =>
            RawResponse.Read(await RawDns.TcpAsync(server, RawDns.Query(id++, name, type, dnssecOk: true), timeout) ?? throw new TimeoutException($"no TCP answer for {name}"));

        // Each request sent exactly once (not through dig, which retries on its own), so the counters must move by exactly as much.
        for (int i = 0; i < 3; i++)
        {
            var answer = await Udp("mail.example.com", 1);
            Assert.Equal((0, true, false, 2), (answer.ReturnCode, answer.Authoritative, answer.AuthenticData, answer.Answers)); // A and its RRSIG, AA, no AD
        }
        for (int i = 0; i < 2; i++) Assert.Equal(3, (await Udp($"nothere{i}.example.com", 1)).ReturnCode);
        Assert.Equal(0, (await Udp("mail.example.com", 28)).ReturnCode); // NODATA is NOERROR
        Assert.Equal(5, (await Udp("www.example.org", 1)).ReturnCode);   // not our zone
        for (int i = 0; i < 2; i++) Assert.Equal(0, (await Tcp("www.tsig.example", 28)).ReturnCode);
        var axfr = await fixture.Signer.Dig(MainZone, "AXFR", "+tcp");
        Assert.DoesNotContain("Transfer failed", axfr.Output, StringComparison.Ordinal);
        uint serial = await fixture.SignerSerialAsync(MainZone);
        var upToDate = await fixture.Signer.Dig(MainZone, "IXFR=" + serial.ToString(CultureInfo.InvariantCulture), "+tcp");
        Assert.Contains("SOA", upToDate.Output, StringComparison.Ordinal);

        // Queries are counted before their answer leaves; a served transfer only after its last message did, which can
        // be after dig is done: waited for (at least one each), then held to exactly one.
        var after = await fixture.WaitForMetricsAsync(
            m => DnsTools.Metric(m, TransfersOut(MainZone, "AXFR")) > DnsTools.Metric(before, TransfersOut(MainZone, "AXFR"))
                 && DnsTools.Metric(m, TransfersOut(MainZone, "IXFR-SOA")) > DnsTools.Metric(before, TransfersOut(MainZone, "IXFR-SOA")),
            "the AXFR and the up-to-date IXFR counted as served");
        double Delta(string key) => DnsTools.Metric(after, key) - DnsTools.Metric(before, key);
        static string Queries(string qtype, string rcode, string transport) =>
            $"inline_signer_queries_total{{qtype=\"{qtype}\",rcode=\"{rcode}\",transport=\"{transport}\"}}";
        Assert.Equal(3, Delta(Queries("A", "NOERROR", "udp")));
        Assert.Equal(2, Delta(Queries("A", "NXDOMAIN", "udp")));
        Assert.Equal(1, Delta(Queries("AAAA", "NOERROR", "udp")));
        Assert.Equal(1, Delta(Queries("A", "REFUSED", "udp")));
        Assert.Equal(2, Delta(Queries("AAAA", "NOERROR", "tcp")));
        Assert.Equal(0, Delta(Queries("A", "NOERROR", "tcp")));
        Assert.Equal(1, Delta(TransfersOut(MainZone, "AXFR")));
        Assert.Equal(1, Delta(TransfersOut(MainZone, "IXFR-SOA")));
        Assert.True(Delta($"inline_signer_transfer_bytes_out_total{{zone=\"{MainZone}.\"}}") > 4000, "the AXFR's octets were not counted");

        // Counters of what happened before: the first NOTIFY to each secondary, and the signatures of the first version,
        // each labelled with the key tag that made it (the KSK signs the DNSKEY set, the ZSK everything else).
        foreach (var secondary in fixture.Secondaries)
        {
            Assert.True(DnsTools.Metric(after, NotifyKey("sent", MainZone, secondary)) >= 1, $"no NOTIFY sent to {secondary}");
            Assert.True(DnsTools.Metric(after, NotifyKey("acknowledged", MainZone, secondary)) >= 1, $"no NOTIFY acknowledged by {secondary}");
        }
        foreach (var zone in new[] { MainZone, TsigZone })
        {
            string Signatures(bool ksk) => $"inline_signer_signatures_total{{zone=\"{zone}.\",algorithm=\"ED25519\",key_tag=\"{fixture.KeyTag(zone, ksk)}\"}}";
            Assert.True(DnsTools.Metric(after, Signatures(ksk: true)) >= 1, $"no KSK signature counted for {zone}");
            Assert.True(DnsTools.Metric(after, Signatures(ksk: false)) >= 5, $"ZSK signatures counted for {zone}: {DnsTools.Metric(after, Signatures(ksk: false))}");
            Assert.Equal(2, after.Count(m => m.Key.StartsWith($"inline_signer_signatures_total{{zone=\"{zone}.\"", StringComparison.Ordinal))); // no other key signed
        }
    }

    /// <summary>Hand-made bad requests for every handler: the query path, transfers, NOTIFY, EDNS and TSIG.</summary>
    private static List<byte[]> Corpus()
    {
        static byte[] Header(ushort flags, ushort qd, ushort an, ushort ns, ushort ar)
        {
            var header = new byte[12];
            BinaryPrimitives.WriteUInt16BigEndian(header, 0x1234);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), flags);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), qd);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), an);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), ns);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), ar);
            return header;
        }
        static byte[] Question(string name, ushort type, ushort @class = 1) => [.. RawDns.Name(name), (byte)(type >> 8), (byte)type, (byte)(@class >> 8), (byte)@class];
        static byte[] Record(byte[] owner, ushort type, byte[] rdata, ushort @class = 1) =>
            [.. owner, (byte)(type >> 8), (byte)type, (byte)(@class >> 8), (byte)@class, 0, 0, 0x0E, 0x10, (byte)(rdata.Length >> 8), (byte)rdata.Length, .. rdata];
        byte[] soaRdata = [.. RawDns.Name("ns1.example.com"), .. RawDns.Name("hostmaster.example.com"), 0, 0, 0, 1, 0, 0, 0x1C, 0x20, 0, 0, 0x0E, 0x10, 0, 0x12, 0x75, 0, 0, 0, 1, 0x2C];
        byte[] pointer = [0xC0, 0x0C];
        byte[] tsigRdata = [.. RawDns.Name("hmac-sha256"), 0, 0, 0x5F, 0x5E, 0x10, 0, 1, 0x2C, 0, 32, .. new byte[32], 0x12, 0x34, 0, 0, 0, 0];
        var opt = new byte[] { 0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0 };
        return
        [
            [],
            [0],
            new byte[11],
            new byte[12],
            Header(0, 1, 0, 0, 0),                                                    // a question announced, none there
            Header(0, 65535, 65535, 65535, 65535),                                    // counts far beyond the packet
            [.. Header(0, 1, 0, 0, 0), .. pointer, 0, 1, 0, 1],                        // a name pointing at itself
            [.. Header(0, 1, 0, 0, 0), 0xC0, 0x20, 0, 1, 0, 1],                        // a pointer past the end
            [.. Header(0, 1, 0, 0, 0), 64, .. new byte[64], 0, 0, 1, 0, 1],            // a 64-octet label
            [.. Header(0, 1, 0, 0, 0), .. Enumerable.Repeat<byte[]>([63, .. Enumerable.Repeat((byte)'a', 63)], 5).SelectMany(l => l), 0, 0, 1, 0, 1], // a name over 255 octets
            [.. Header(0, 2, 0, 0, 0), .. Question(MainZone, 1), .. Question(MainZone, 28)],   // two questions
            [.. Header(0x8000, 1, 0, 0, 0), .. Question(MainZone, 6)],                     // a response: must not be answered
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 252)],                        // AXFR over UDP
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 251)],                        // IXFR without the client's SOA
            [.. Header(0, 1, 0, 1, 0), .. Question(MainZone, 251), .. Record(pointer, 1, [192, 0, 2, 1])],         // IXFR with an A for a SOA
            [.. Header(0, 1, 0, 1, 0), .. Question(MainZone, 251), .. Record(pointer, 6, [1, 2, 3])],              // IXFR with a truncated SOA
            [.. Header(0, 1, 0, 1, 0), .. Question(MainZone, 251), .. Record(pointer, 6, soaRdata)],               // IXFR from serial 1 (whole zone)
            [.. Header(0, 1, 0, 1, 0), .. Question("nowhere.test", 251), .. Record(pointer, 6, soaRdata)],     // IXFR of a zone we do not serve
            [.. Header(0, 1, 0, 0, 0), .. Question(TsigZone, 252)],                    // AXFR of the TSIG-only zone, no key
            [.. Header(0x2000, 1, 0, 0, 0), .. Question(MainZone, 6)],                     // NOTIFY for a zone that has no primary
            [.. Header(0x2400, 1, 1, 0, 0), .. Question(MainZone, 6), .. Record(pointer, 6, soaRdata)],            // NOTIFY with a SOA
            [.. Header(0x2000, 1, 0, 0, 0), .. Question(MainZone, 1)],                     // NOTIFY for QTYPE A
            Header(0x2000, 0, 0, 0, 0),                                               // NOTIFY without a question
            [.. Header(0x2800, 1, 0, 0, 0), .. Question(MainZone, 6)],                     // UPDATE
            [.. Header(0x7800, 1, 0, 0, 0), .. Question(MainZone, 6)],                     // opcode 15
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 6, 3)],                       // class CH
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 255)],                        // ANY
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 46)],                         // RRSIG
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 41)],                         // QTYPE OPT
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 250)],                        // QTYPE TSIG
            [.. Header(0, 1, 0, 0, 0), .. Question(MainZone, 65535)],
            [.. Header(0, 1, 0, 0, 2), .. Question(MainZone, 6), .. opt, .. opt],         // two OPT records
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), 0, 0, 41, 0x04, 0xD0, 0, 1, 0x80, 0, 0, 0], // EDNS version 1
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), 0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 8, 0, 10, 0, 40, 1, 2], // an option longer than the OPT
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), 0, 0, 41, 0, 0, 0, 0, 0, 0, 0, 0],             // UDP size 0
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), .. Record(RawDns.Name(KeyName), 250, tsigRdata, 255)],       // a TSIG with a wrong MAC
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), .. Record(RawDns.Name("nokey"), 250, tsigRdata, 255)],       // a TSIG with an unknown key
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), .. Record(RawDns.Name(KeyName), 250, [1, 2, 3], 255)],       // an unreadable TSIG
            [.. Header(0, 1, 0, 0, 1), .. Question(TsigZone, 252), .. Record(RawDns.Name(KeyName), 250, tsigRdata, 255)], // AXFR with a wrong MAC
            [.. Header(0, 1, 0, 0, 2), .. Question(MainZone, 6), .. Record(RawDns.Name(KeyName), 250, tsigRdata, 255), .. opt], // TSIG not last
            [.. Header(0, 1, 0, 0, 1), .. Question(MainZone, 6), .. Record(RawDns.Name(KeyName), 250, [.. RawDns.Name("hmac-sha256"), 0, 0, 0x5F, 0x5E, 0x10, 0, 1, 0x2C, 0, 0, 0x12, 0x34, 0, 0, 0, 0], 255)], // an empty MAC
            [.. Header(0, 1, 1, 0, 0), .. Question(MainZone, 6), .. Record(pointer, 1, [192, 0, 2])],            // a query with an answer
            RawDns.Query(1, "mail.example.com", 1, dnssecOk: true),
            RawDns.Query(2, "x.wild.example.com", 255, dnssecOk: true),
        ];
    }

    [Fact]
    public async Task Malformed_packets_over_udp_and_tcp_leave_the_daemon_running_and_answering()
    {
        var random = new Random(20261201); // fixed, so a failure can be replayed
        var corpus = Corpus();
        var packets = new List<byte[]>(corpus);
        for (int i = 0; i < 600; i++)
        {
            var packet = (byte[])corpus[random.Next(corpus.Count)].Clone();
            if (packet.Length == 0) continue;
            for (int flips = random.Next(1, 6); flips > 0; flips--) packet[random.Next(packet.Length)] = (byte)random.Next(256);
            packets.Add(packet);
        }
        for (int i = 0; i < 300; i++)
        {
            var packet = new byte[random.Next(0, 700)];
            random.NextBytes(packet);
            packets.Add(packet);
        }
        var server = fixture.Signer.DnsEndpoint;
        var before = await fixture.Signer.MetricsAsync();

        // UDP: in batches, reading what comes back until the daemon goes quiet, so the packets are processed, not lost in buffers.
        using (var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            await udp.ConnectAsync(server);
            var buffer = new byte[65535];
            foreach (var batch in packets.Chunk(25))
            {
                foreach (var packet in batch) await udp.SendAsync(packet, SocketFlags.None);
                while (true)
                {
                    using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
                    try { await udp.ReceiveAsync(buffer, SocketFlags.None, quiet.Token); }
                    catch (OperationCanceledException) { break; }
                    catch (SocketException) { break; }
                }
            }
        }

        // TCP: the same packets framed, several per connection, then the client's FIN; the daemon answers what it can and closes.
        foreach (var batch in packets.Chunk(20))
        {
            var stream = new List<byte>();
            foreach (var packet in batch) stream.AddRange([(byte)(packet.Length >> 8), (byte)packet.Length, .. packet]);
            await SendAndDrainAsync(server, [.. stream]);
        }
        // …and streams that break the framing: a zero length, a length with too little after it, a bare prefix, raw noise.
        await SendAndDrainAsync(server, [0, 0]);
        await SendAndDrainAsync(server, [0xFF, 0xFF, 1, 2, 3]);
        await SendAndDrainAsync(server, [0x00]);
        await SendAndDrainAsync(server, []);
        for (int i = 0; i < 20; i++)
        {
            var noise = new byte[random.Next(1, 3000)];
            random.NextBytes(noise);
            await SendAndDrainAsync(server, noise);
        }

        Assert.True(fixture.Signer.IsRunning, $"the daemon exited:\n{fixture.Signer.Log}");
        var afterUdp = await RawDns.UdpAsync(server, RawDns.Query(0x7777, "mail.example.com", 1, dnssecOk: true), TimeSpan.FromSeconds(10));
        Assert.NotNull(afterUdp);
        Assert.Equal((ushort)0x7777, RawResponse.Read(afterUdp).Id);
        Assert.Equal(0, RawResponse.Read(afterUdp).ReturnCode);
        Assert.True(RawResponse.Read(afterUdp).Authoritative);
        var afterTcp = await RawDns.TcpAsync(server, RawDns.Query(0x7778, "nothere.example.com", 1), TimeSpan.FromSeconds(10));
        Assert.NotNull(afterTcp);
        Assert.Equal(3, RawResponse.Read(afterTcp).ReturnCode);
        var after = await fixture.Signer.MetricsAsync();
        // A handler that threw is counted and logged; none may have, whatever came in.
        Assert.True(DnsTools.Metric(after, "inline_signer_requests_dropped_total{reason=\"HandlerFailure\"}") == 0, $"handler failures:\n{fixture.Signer.Log}");
        Assert.True(DnsTools.Metric(after, "inline_signer_requests_dropped_total{reason=\"Unreadable\"}") > DnsTools.Metric(before, "inline_signer_requests_dropped_total{reason=\"Unreadable\"}"));
        Assert.True(DnsTools.Metric(after, "inline_signer_queries_total{qtype=\"none\",rcode=\"FORMATERROR\",transport=\"udp\"}") > 0);
        Assert.DoesNotContain("Unhandled exception", fixture.Signer.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("DNS service:", fixture.Signer.Log, StringComparison.Ordinal);
        Assert.True(fixture.Signer.IsRunning);
    }

    /// <summary>Writes <paramref name="octets"/> on a new connection, half-closes it, and reads until the daemon closes it.</summary>
    private static async Task SendAndDrainAsync(System.Net.IPEndPoint server, byte[] octets)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(server, deadline.Token);
        try
        {
            if (octets.Length > 0) await socket.SendAsync(octets, SocketFlags.None, deadline.Token);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[65535];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0) { }
        }
        catch (SocketException)
        {
            // a reset is one way for the daemon to end a connection whose framing it lost
        }
    }
}
