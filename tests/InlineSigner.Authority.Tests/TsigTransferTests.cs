using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Protocol;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Authority.Tests;

/// <summary>
/// <see cref="ZoneTransferServer"/> with TSIG through <see cref="TsigVerifier"/>: dig signs its request with -y and
/// verifies every message of our multi-message answer; a wrong secret or no key gets no zone.
/// </summary>
public sealed partial class TsigTransferTests : IAsyncLifetime, IDisposable
{
    private static readonly DomainName Origin = DomainName.Parse("tsig.test");
    private static readonly string Secret = Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)(i * 5 + 1)).ToArray());
    private readonly TsigKey _key = TsigKey.Parse("hmac-sha256:xfr-key:" + Secret);
    private readonly DnsCounters _counters = new();
    private readonly InMemoryJournal _journal = new();
    private DnsListener _listener = null!;

    private static Zone TsigZone(uint serial)
    {
        var text = new System.Text.StringBuilder($"$ORIGIN tsig.test.\n$TTL 300\n@ SOA ns hostmaster {serial} 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n");
        for (int i = 0; i < 5000; i++) text.Append(CultureInfo.InvariantCulture, $"host{i} A 10.{i / 256 % 256}.{i % 256}.1\n");
        if (serial >= 2) text.Append("added TXT \"in version 2\"\n");
        return ZoneLoader.Load(MasterFileReader.ReadString(text.ToString(), Origin), Origin);
    }

    public async Task InitializeAsync()
    {
        var v1 = TsigZone(1);
        var v2 = TsigZone(2);
        _journal.Add(Origin, new JournalDelta(v1.Soa!, [], v2.Soa!, [v2.Find(DomainName.Parse("added.tsig.test"), RecordType.Txt)!.Records[0]]));
        var catalog = new ZoneCatalog(ServedZone.Create(v2));
        // Only the key may transfer: no address is allowed.
        var transfers = new ZoneTransferServer(catalog, _ => TransferAcl.Parse([], ["xfr-key"]), _journal, new TsigVerifier([_key]), _counters);
        _listener = new DnsListener(new DnsRequestDispatcher(new QueryResponder(catalog), transfers, metrics: _counters),
            new DnsListenerOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)] });
        await _listener.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _listener.DisposeAsync();

    public void Dispose() => _key.Dispose();

    private Task<ToolResult> Dig(params string[] args) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", _listener.BoundEndpoints[0].Port.ToString(CultureInfo.InvariantCulture), "+time=5", "+tries=1", .. args], timeout: TimeSpan.FromSeconds(60));

    [GeneratedRegex(@"XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)")]
    private static partial Regex XfrSize();

    [Fact]
    public async Task Dig_with_the_key_gets_the_whole_zone_and_verifies_every_message()
    {
        var dig = await Dig("-y", "hmac-sha256:xfr-key:" + Secret, "tsig.test", "AXFR");
        var size = XfrSize().Match(dig.Output);
        Assert.True(size.Success, dig.All);
        Assert.Equal(TsigZone(2).Records.Count() + 1, int.Parse(size.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.True(int.Parse(size.Groups[2].Value, CultureInfo.InvariantCulture) >= 2, dig.Output[^300..]);
        Assert.DoesNotContain("failure", dig.All, StringComparison.OrdinalIgnoreCase);
        // Counted after the last message left, so possibly after dig was done: waited for, not read at once.
        await Eventually.AssertAsync(() => _counters.TransfersServed("tsig.test.", "AXFR") >= 1, "the AXFR counted as served", () => $"{_counters.TransfersServed("tsig.test.", "AXFR")}");

        // IXFR over TCP, signed the same way.
        var ixfr = await Dig("-y", "hmac-sha256:xfr-key:" + Secret, "+tcp", "tsig.test", "IXFR=1");
        Assert.Contains("in version 2", ixfr.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("failure", ixfr.All, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_wrong_secret_an_unknown_key_or_no_key_gets_nothing()
    {
        var wrong = await Dig("-y", "hmac-sha256:xfr-key:" + Convert.ToBase64String(new byte[32]), "tsig.test", "AXFR");
        Assert.DoesNotMatch(XfrSize(), wrong.Output);
        Assert.DoesNotContain("host1.tsig.test", wrong.Output, StringComparison.Ordinal);
        Assert.Contains("BADSIG", wrong.All, StringComparison.Ordinal);

        var unknown = await Dig("-y", "hmac-sha256:other-key:" + Secret, "tsig.test", "AXFR");
        Assert.DoesNotContain("host1.tsig.test", unknown.Output, StringComparison.Ordinal);
        Assert.Contains("BADKEY", unknown.All, StringComparison.Ordinal);

        var none = await Dig("tsig.test", "AXFR");
        Assert.Contains("Transfer failed", none.Output, StringComparison.Ordinal);
        Assert.Equal(3, _counters.TransfersRefused("tsig.test."));
    }

    [Fact]
    public void Duplicate_key_names_are_refused()
    {
        using var twin = TsigKey.Parse("hmac-sha512:XFR-KEY:" + Secret);
        var e = Assert.Throws<ArgumentException>(() => new TsigVerifier([_key, twin]));
        Assert.Contains("xfr-key", e.Message, StringComparison.OrdinalIgnoreCase);
    }
}
