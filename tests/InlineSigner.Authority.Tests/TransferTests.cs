using System.Net;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Authority.Tests;

/// <summary>AXFR and IXFR served by <see cref="ZoneTransferServer"/>, read by dig and by hand.</summary>
[Collection("signed zones")]
public sealed partial class TransferTests(SignedZonesFixture zones) : IAsyncLifetime
{
    private static readonly DomainName Big = DomainName.Parse("big.test");
    private readonly ZoneCatalog _catalog = zones.Catalog();
    private readonly DnsCounters _counters = new();
    private readonly InMemoryJournal _journal = new();
    private DnsListener _listener = null!;
    private TransferAcl _acl = TransferAcl.Parse(["127.0.0.0/8", "::1"]);

    /// <summary>An unsigned zone of 3000 names, version <paramref name="serial"/>; version 2 changes two records of version 1.</summary>
    private static Zone BigZone(uint serial)
    {
        var text = new System.Text.StringBuilder($"$ORIGIN big.test.\n$TTL 300\n@ SOA ns hostmaster {serial} 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n");
        for (int i = 0; i < 3000; i++) text.Append($"host{i} A 10.{i / 256 % 256}.{i % 256}.1\n");
        if (serial >= 2) text.Append("added TXT \"in version 2\"\n").Replace("host7 A 10.0.7.1", "host7 A 10.99.99.99");
        return ZoneLoader.Load(MasterFileReader.ReadString(text.ToString(), Big), Big);
    }

    public async Task InitializeAsync()
    {
        _catalog.Publish(ServedZone.Create(BigZone(2)));
        var v1 = BigZone(1);
        var v2 = BigZone(2);
        _journal.Add(Big, new JournalDelta(v1.Soa!, [v1.Find(DomainName.Parse("host7.big.test"), RecordType.A)!.Records[0]],
            v2.Soa!, [v2.Find(DomainName.Parse("host7.big.test"), RecordType.A)!.Records[0], v2.Find(DomainName.Parse("added.big.test"), RecordType.Txt)!.Records[0]]));
        var transfers = new ZoneTransferServer(_catalog, _ => _acl, _journal, metrics: _counters);
        _listener = new DnsListener(new DnsRequestDispatcher(new QueryResponder(_catalog), transfers, metrics: _counters),
            new DnsListenerOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)] });
        await _listener.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _listener.DisposeAsync();

    private Task<ToolResult> Dig(params string[] args) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", _listener.BoundEndpoints[0].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "+time=5", "+tries=1", .. args], timeout: TimeSpan.FromSeconds(60));

    /// <summary>
    /// The served-transfer counter moves after the last message has left, so dig can be done before it: wait for it
    /// (a deadline, not a delay) instead of reading it at once.
    /// </summary>
    private Task AssertTransferCountedAsync(string zone, string kind) =>
        Eventually.AssertAsync(() => _counters.TransfersServed(zone, kind) >= 1, $"a {kind} of {zone} counted as served", () => $"{_counters.TransfersServed(zone, kind)}");

    [GeneratedRegex(@"XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)")]
    private static partial Regex XfrSize();

    private static (int Records, int Messages) Size(ToolResult dig)
    {
        var match = XfrSize().Match(dig.Output);
        Assert.True(match.Success, dig.All);
        return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static List<string> RecordLines(ToolResult dig) =>
        dig.Output.Split('\n').Where(l => l.Length > 0 && !l.StartsWith(';')).ToList();

    [Fact]
    public async Task AXFR_of_a_signed_zone_has_every_record_between_two_SOAs()
    {
        var dig = await Dig("nsec3.test", "AXFR");
        var lines = RecordLines(dig);
        var zone = zones.Nsec3Zone.Zone;
        Assert.Equal(zone.Records.Count() + 1, Size(dig).Records); // + the closing SOA
        Assert.Matches(@"\sIN\s+SOA\s", lines[0]);
        Assert.Matches(@"\sIN\s+SOA\s", lines[^1]);
        Assert.True(zone.Records.Count(r => r.RecordType == RecordType.NSec3) == lines.Count(l => Regex.IsMatch(l, @"\sIN\s+NSEC3\s")), dig.Output);
        Assert.Equal(zone.Records.Count(r => r.RecordType == RecordType.RrSig), lines.Count(l => Regex.IsMatch(l, @"\sIN\s+RRSIG\s")));
        // What dig received, written to a file, is a zone BIND's checker accepts with all its signatures valid.
        using var dir = new TempDirectory();
        await File.WriteAllLinesAsync(dir.File("axfr.db"), lines);
        var verify = await ExternalTool.RunAsync("dnssec-verify", ["-o", "nsec3.test", dir.File("axfr.db")], dir.Path);
        Assert.True(verify.ExitCode == 0, verify.All);
    }

    [Fact]
    public async Task AXFR_of_a_large_zone_spans_several_messages_of_at_most_64_KiB()
    {
        var dig = await Dig("big.test", "AXFR");
        var (records, messages) = Size(dig);
        Assert.Equal(BigZone(2).Records.Count() + 1, records);
        Assert.True(messages >= 2, dig.Output[^300..]);
        await AssertTransferCountedAsync("big.test.", "AXFR");
    }

    [Fact]
    public async Task Clients_outside_the_ACL_are_refused_and_counted()
    {
        _acl = TransferAcl.Parse(["10.0.0.0/8"]);
        var dig = await Dig("nsec.test", "AXFR");
        Assert.Contains("Transfer failed", dig.Output, StringComparison.Ordinal);
        Assert.Equal(1, _counters.TransfersRefused("nsec.test."));
        var ixfr = await Dig("big.test", "IXFR=1");
        Assert.Contains("Transfer failed", ixfr.Output, StringComparison.Ordinal);
        var notServed = await Dig("example.org", "AXFR");
        Assert.Contains("Transfer failed", notServed.Output, StringComparison.Ordinal);
        var notApex = await Dig("www.nsec.test", "AXFR");
        Assert.Contains("Transfer failed", notApex.Output, StringComparison.Ordinal);
        Assert.Equal(4, _counters.TransfersRefusedTotal);
    }

    [Fact]
    public async Task IXFR_from_a_journaled_serial_is_incremental()
    {
        var dig = await Dig("big.test", "IXFR=1");
        var lines = RecordLines(dig);
        // SOA 2, SOA 1, deleted host7, SOA 2, added host7 and added, SOA 2 (RFC 1995 §4).
        Assert.Equal(7, lines.Count);
        Assert.Matches(@"SOA\s.* 2 3600", lines[0]);
        Assert.Matches(@"SOA\s.* 1 3600", lines[1]);
        Assert.Matches(@"host7\.big\.test\..*10\.0\.7\.1", lines[2]);
        Assert.Matches(@"SOA\s.* 2 3600", lines[3]);
        Assert.Contains(lines, l => l.Contains("10.99.99.99", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("in version 2", StringComparison.Ordinal));
        Assert.Matches(@"SOA\s.* 2 3600", lines[^1]);
        await AssertTransferCountedAsync("big.test.", "IXFR");

        // Over UDP the small delta fits one datagram.
        var udp = await Dig("+notcp", "big.test", "IXFR=1");
        Assert.Equal(7, RecordLines(udp).Count);
    }

    [Fact]
    public async Task IXFR_from_the_current_serial_is_one_SOA()
    {
        var dig = await Dig("big.test", "IXFR=2");
        var lines = RecordLines(dig);
        Assert.Single(lines);
        Assert.Matches(@"SOA\s.* 2 3600", lines[0]);
        var newer = await Dig("big.test", "IXFR=5"); // a client ahead of us (RFC 1982) gets the same answer
        Assert.Single(RecordLines(newer));
    }

    [Fact]
    public async Task IXFR_from_a_serial_the_journal_lacks_is_the_whole_zone()
    {
        var dig = await Dig("big.test", "IXFR=0");
        Assert.Equal(BigZone(2).Records.Count() + 1, Size(dig).Records);
        await AssertTransferCountedAsync("big.test.", "IXFR-AXFR");
        // Over UDP, a full zone cannot fit: the SOA alone says "come back over TCP".
        var udp = await Dig("+notcp", "big.test", "IXFR=0");
        var lines = RecordLines(udp);
        Assert.Single(lines);
        Assert.Contains("\tSOA\t", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AXFR_serves_one_snapshot_even_while_a_new_version_is_published()
    {
        var zone = ServedZone.Create(BigZone(2));
        var catalog = new ZoneCatalog(zone);
        var server = new ZoneTransferServer(catalog, _ => _acl);
        var sink = new GatedSink();
        var query = new DnsMessage { TransactionID = 9 };
        query.Questions.Add(new DnsQuestion(Big, RecordType.Axfr, RecordClass.INet));
        var request = new DnsRequest(query, ReadOnlyMemory<byte>.Empty, DnsTransport.Tcp, new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 53));
        var transfer = server.HandleAsync(request, sink, CancellationToken.None);
        await sink.FirstMessage.Task;
        catalog.Publish(ServedZone.Create(BigZone(3))); // published while the transfer is on its first message
        sink.Release.SetResult();
        await transfer;
        var messages = sink.Messages.Select(m => DnsMessage.Parse(m)).ToList();
        Assert.True(messages.Count >= 2);
        var soas = messages.SelectMany(m => m.AnswerRecords).OfType<SoaRecord>().ToList();
        Assert.Equal(2, soas.Count);
        Assert.All(soas, s => Assert.Equal(2u, s.SerialNumber));
        Assert.All(messages, m => Assert.Equal(9, m.TransactionID));
        Assert.Single(messages[0].Questions);
        Assert.All(messages.Skip(1), m => Assert.Empty(m.Questions));
        Assert.All(sink.Messages, m => Assert.True(m.Length <= 65535));
    }

    [Fact]
    public async Task AXFR_over_UDP_is_a_format_error()
    {
        var server = new ZoneTransferServer(_catalog, _ => _acl);
        var sink = new GatedSink();
        sink.Release.SetResult();
        var query = new DnsMessage { TransactionID = 3 };
        query.Questions.Add(new DnsQuestion(Big, RecordType.Axfr, RecordClass.INet));
        await server.HandleAsync(new DnsRequest(query, ReadOnlyMemory<byte>.Empty, DnsTransport.Udp, new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 53)), sink, CancellationToken.None);
        Assert.Equal(ReturnCode.FormatError, DnsMessage.Parse(Assert.Single(sink.Messages)).ReturnCode);
    }

    [Fact]
    public void ACL_allows_listed_prefixes_or_listed_keys()
    {
        var acl = TransferAcl.Parse(["192.0.2.0/24", "2001:db8::/32"], ["xfr-key"]);
        Assert.True(acl.Allows(IPAddress.Parse("192.0.2.9"), null));
        Assert.True(acl.Allows(IPAddress.Parse("::ffff:192.0.2.9"), null));
        Assert.True(acl.Allows(IPAddress.Parse("2001:db8::1"), null));
        Assert.False(acl.Allows(IPAddress.Parse("198.51.100.1"), null));
        Assert.True(acl.Allows(IPAddress.Parse("198.51.100.1"), DomainName.Parse("XFR-key")));
        Assert.False(acl.Allows(IPAddress.Parse("198.51.100.1"), DomainName.Parse("other-key")));
        Assert.False(TransferAcl.DenyAll.Allows(IPAddress.Loopback, null));
        Assert.Throws<FormatException>(() => TransferAcl.Parse(["not-an-address"]));
    }

    [Fact]
    public void Serial_arithmetic_follows_RFC_1982()
    {
        Assert.True(ZoneTransferServer.SerialIsBefore(1, 2));
        Assert.False(ZoneTransferServer.SerialIsBefore(2, 2));
        Assert.False(ZoneTransferServer.SerialIsBefore(5, 2));
        Assert.True(ZoneTransferServer.SerialIsBefore(uint.MaxValue, 3)); // wrapped
        Assert.False(ZoneTransferServer.SerialIsBefore(3, uint.MaxValue));
    }

    private sealed class GatedSink : IDnsResponseSink
    {
        public List<byte[]> Messages { get; } = [];
        public TaskCompletionSource FirstMessage { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int MaxMessageSize => 65535;

        public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        {
            Messages.Add(message.ToArray());
            FirstMessage.TrySetResult();
            await Release.Task;
        }
    }
}

/// <summary>A journal held in memory: the deltas given to it, chained by serial.</summary>
internal sealed class InMemoryJournal : IJournal
{
    private readonly Dictionary<DomainName, List<JournalDelta>> _deltas = new(CanonicalNameComparer.Instance);

    public void Add(DomainName zone, JournalDelta delta)
    {
        if (!_deltas.TryGetValue(zone, out var list)) _deltas[zone] = list = [];
        list.Add(delta);
    }

    public ValueTask<IReadOnlyList<JournalDelta>?> GetDeltasAsync(DomainName zone, uint fromSerial, uint toSerial, CancellationToken cancellationToken)
    {
        if (!_deltas.TryGetValue(zone, out var list)) return ValueTask.FromResult<IReadOnlyList<JournalDelta>?>(null);
        int start = list.FindIndex(d => d.From.SerialNumber == fromSerial);
        if (start < 0) return ValueTask.FromResult<IReadOnlyList<JournalDelta>?>(null);
        var result = new List<JournalDelta>();
        for (int i = start; i < list.Count; i++)
        {
            result.Add(list[i]);
            if (list[i].To.SerialNumber == toSerial) return ValueTask.FromResult<IReadOnlyList<JournalDelta>?>(result);
        }
        return ValueTask.FromResult<IReadOnlyList<JournalDelta>?>(null);
    }
}
