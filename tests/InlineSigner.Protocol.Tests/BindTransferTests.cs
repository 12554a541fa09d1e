using System.Net;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared.Dns;
using InlineSigner.Tests.Shared;
using InlineSigner.Zones;

namespace InlineSigner.Protocol.Tests;

/// <summary>Our transfer client, SOA query and NOTIFY against a real BIND 9.</summary>
[Collection("bind")]
public sealed partial class BindTransferTests(BindFixture bind)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly ZoneTransferClient _client = new();

    /// <summary>The zone as BIND reads its file: named-compilezone's dump, read back.</summary>
    private async Task<SortedSet<string>> ZoneAsBindSeesIt(DomainName zone, string file)
    {
        var dumped = bind.Server.Directory.File(file + ".compiled");
        var result = await ExternalTool.RunAsync("named-compilezone", "-o", dumped, zone.ToString(), bind.Server.Directory.File(file));
        Assert.True(result.ExitCode == 0, result.All);
        return Messages.Set(MasterFileReader.ReadFile(dumped, zone).Records);
    }

    [GeneratedRegex(@"transfer of '(?<zone>[^/]+)/IN': AXFR ended: (?<messages>\d+) messages, (?<records>\d+) records")]
    private static partial Regex AxfrEnded();

    private int MessagesBindSent(DomainName zone) =>
        AxfrEnded().Matches(bind.Server.Log).Where(m => m.Groups["zone"].Value == zone.ToString().TrimEnd('.'))
            .Select(m => int.Parse(m.Groups["messages"].Value, System.Globalization.CultureInfo.InvariantCulture)).LastOrDefault();

    [Fact]
    public async Task AXFR_of_a_multi_message_zone_equals_the_zone_file()
    {
        var records = await _client.AxfrAsync(bind.Server.Endpoint, BindFixture.Big, null, Timeout, CancellationToken.None);
        Assert.IsType<SoaRecord>(records[0]);
        Assert.Equal(1u, ((SoaRecord)records[0]).SerialNumber);
        Assert.Single(records.OfType<SoaRecord>()); // the closing SOA is not repeated
        Assert.True(records.Count > 4500, $"{records.Count} records");
        Assert.Equal(await ZoneAsBindSeesIt(BindFixture.Big, "big.db"), Messages.Set(records));
        Assert.True(MessagesBindSent(BindFixture.Big) >= 2, bind.Server.Log);
    }

    [Fact]
    public async Task AXFR_with_TSIG_verifies_every_signed_message_of_BINDs_stream()
    {
        using var key = TsigKey.ParseBindKeys(bind.KeyText)[0];
        var records = await _client.AxfrAsync(bind.Server.Endpoint, BindFixture.Secure, key, Timeout, CancellationToken.None);
        Assert.Equal(7u, ((SoaRecord)records[0]).SerialNumber);
        Assert.Equal(await ZoneAsBindSeesIt(BindFixture.Secure, "secure.db"), Messages.Set(records));
        Assert.True(MessagesBindSent(BindFixture.Secure) >= 2, bind.Server.Log);
    }

    [Fact]
    public async Task AXFR_without_the_required_key_is_refused()
    {
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => _client.AxfrAsync(bind.Server.Endpoint, BindFixture.Secure, null, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.Refused, e.Failure);
        Assert.Equal(ReturnCode.Refused, e.ReturnCode);
        Assert.Contains("AXFR of secure.test. from 127.0.0.1:", e.Message, StringComparison.Ordinal);
        Assert.Contains("REFUSED", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AXFR_with_a_wrong_secret_fails_with_BINDs_BADSIG()
    {
        using var real = TsigKey.ParseBindKeys(bind.KeyText)[0];
        using var wrong = new TsigKey(real.Name, real.Algorithm, new byte[32]);
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => _client.AxfrAsync(bind.Server.Endpoint, BindFixture.Secure, wrong, Timeout, CancellationToken.None));
        Assert.True(e.Failure == DnsFailure.Tsig, e.ToString());
        Assert.Equal(ReturnCode.BadSig, e.ReturnCode);
        Assert.Contains("BADSIG", e.Message, StringComparison.Ordinal);
        Assert.Contains("secure.test.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AXFR_with_a_key_BIND_does_not_know_fails_with_BADKEY()
    {
        using var stranger = TsigKey.Parse("hmac-sha256:stranger-key:" + Convert.ToBase64String(new byte[32]));
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => _client.AxfrAsync(bind.Server.Endpoint, BindFixture.Secure, stranger, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.Tsig, e.Failure);
        Assert.Equal(ReturnCode.BadKey, e.ReturnCode);
        Assert.Contains("BADKEY", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AXFR_of_a_zone_BIND_does_not_serve_is_NOTAUTH()
    {
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => _client.AxfrAsync(bind.Server.Endpoint, DomainName.Parse("nowhere.test"), null, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.NotAuthoritative, e.Failure);
        Assert.Contains("nowhere.test.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SOA_query_returns_the_serial_signed_or_not()
    {
        var soa = await _client.SoaQueryAsync(bind.Server.Endpoint, BindFixture.Big, null, Timeout, CancellationToken.None);
        Assert.Equal(1u, soa.SerialNumber);
        Assert.True(CanonicalNameComparer.Instance.Equals(BindFixture.Big, soa.Name));
        using var key = TsigKey.ParseBindKeys(bind.KeyText)[0];
        var signed = await _client.SoaQueryAsync(bind.Server.Endpoint, BindFixture.Secure, key, Timeout, CancellationToken.None);
        Assert.Equal(7u, signed.SerialNumber);
        using var stranger = TsigKey.Parse("hmac-sha256:stranger-key:" + Convert.ToBase64String(new byte[32]));
        var e = await Assert.ThrowsAsync<ZoneTransferException>(() => _client.SoaQueryAsync(bind.Server.Endpoint, BindFixture.Secure, stranger, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.Tsig, e.Failure);
        var notAuth = await Assert.ThrowsAsync<ZoneTransferException>(() => _client.SoaQueryAsync(bind.Server.Endpoint, DomainName.Parse("nowhere.test"), null, Timeout, CancellationToken.None));
        Assert.Contains("nowhere.test.", notAuth.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IXFR_returns_exactly_the_nsupdate_deltas_then_up_to_date_and_whole_zone_when_not_journaled()
    {
        var zone = BindFixture.Dynamic;
        var endpoint = bind.Server.Endpoint;
        var before = await _client.AxfrAsync(endpoint, zone, null, Timeout, CancellationToken.None);
        uint start = ((SoaRecord)before[0]).SerialNumber;

        await bind.Server.UpdateAsync("zone dyn.test\nupdate delete host1.dyn.test. A\nupdate add new1.dyn.test. 300 A 192.0.2.55\nsend\nupdate add new2.dyn.test. 600 TXT \"second\" \"update\"\nsend");
        var after = await _client.AxfrAsync(endpoint, zone, null, Timeout, CancellationToken.None);
        uint end = ((SoaRecord)after[0]).SerialNumber;
        Assert.Equal(start + 2, end);

        var result = await _client.IxfrAsync(endpoint, zone, start, null, Timeout, CancellationToken.None);
        var incremental = Assert.IsType<IxfrResult.Incremental>(result);
        Assert.Equal(end, incremental.Soa.SerialNumber);
        Assert.Equal(2, incremental.Deltas.Count);
        var first = incremental.Deltas[0];
        Assert.Equal(start, first.From.SerialNumber);
        Assert.Equal(start + 1, first.To.SerialNumber);
        Assert.Equal(Messages.Set(Messages.Records(zone, "host1 300 A 10.0.0.1")), Messages.Set(first.Deleted));
        Assert.Equal(Messages.Set(Messages.Records(zone, "new1 300 A 192.0.2.55")), Messages.Set(first.Added));
        var second = incremental.Deltas[1];
        Assert.Equal(start + 1, second.From.SerialNumber);
        Assert.Equal(end, second.To.SerialNumber);
        Assert.Empty(second.Deleted);
        Assert.Equal(Messages.Set(Messages.Records(zone, "new2 600 TXT \"second\" \"update\"")), Messages.Set(second.Added));

        // The deltas take the old zone to the new one.
        var applied = Messages.Set(before.Where(r => r is not SoaRecord));
        foreach (var delta in incremental.Deltas)
        {
            applied.ExceptWith(Messages.Set(delta.Deleted));
            applied.UnionWith(Messages.Set(delta.Added));
        }
        applied.Add(Messages.Key(incremental.Soa));
        Assert.Equal(Messages.Set(after), applied);

        // From the middle: one delta. Signed with the other key BIND allows: the same.
        using var key = TsigKey.ParseBindKeys(bind.Sha512KeyText)[0];
        var fromMiddle = Assert.IsType<IxfrResult.Incremental>(await _client.IxfrAsync(endpoint, zone, start + 1, key, Timeout, CancellationToken.None));
        Assert.Single(fromMiddle.Deltas);

        // Current, or ahead: up to date.
        Assert.Equal(end, Assert.IsType<IxfrResult.UpToDate>(await _client.IxfrAsync(endpoint, zone, end, null, Timeout, CancellationToken.None)).Soa.SerialNumber);
        Assert.IsType<IxfrResult.UpToDate>(await _client.IxfrAsync(endpoint, zone, end + 10, null, Timeout, CancellationToken.None));

        // Older than the journal: BIND answers with the whole zone, AXFR-style.
        var full = Assert.IsType<IxfrResult.Full>(await _client.IxfrAsync(endpoint, zone, start - 50, null, Timeout, CancellationToken.None));
        Assert.Equal(Messages.Set(after), Messages.Set(full.Records));
        Assert.Equal(end, full.Soa.SerialNumber);
    }

    [Fact]
    public async Task NOTIFY_gets_BINDs_answer_with_matching_ID()
    {
        var sender = new NotifySender();
        var soa = new SoaRecord(BindFixture.Secondary, 300, DomainName.Parse("ns1.sec.test"), DomainName.Parse("hostmaster.sec.test"), 5, 3600, 600, 86400, 60);
        Assert.Equal(ReturnCode.NoError, await sender.SendNotifyAsync(bind.Server.Endpoint, BindFixture.Secondary, soa, null, Timeout, CancellationToken.None));
        using var key = TsigKey.ParseBindKeys(bind.KeyText)[0];
        Assert.Equal(ReturnCode.NoError, await sender.SendNotifyAsync(bind.Server.Endpoint, BindFixture.Secondary, soa, key, Timeout, CancellationToken.None));
        Assert.Contains("received notify for zone 'sec.test'", bind.Server.Log, StringComparison.Ordinal);

        // A zone BIND does not serve: NOTAUTH.
        var nowhere = DomainName.Parse("nowhere.test");
        var nowhereSoa = new SoaRecord(nowhere, 300, DomainName.Parse("ns1.nowhere.test"), DomainName.Parse("hostmaster.nowhere.test"), 9, 3600, 600, 86400, 60);
        var code = await sender.SendNotifyAsync(bind.Server.Endpoint, nowhere, nowhereSoa, null, Timeout, CancellationToken.None);
        Assert.Equal(ReturnCode.NotAuthoritive, code);

        // A zone BIND is primary of: BIND acknowledges and ignores it.
        var bigSoa = new SoaRecord(BindFixture.Big, 300, DomainName.Parse("ns1.big.test"), DomainName.Parse("hostmaster.big.test"), 9, 3600, 600, 86400, 60);
        Assert.Equal(ReturnCode.NoError, await sender.SendNotifyAsync(bind.Server.Endpoint, BindFixture.Big, bigSoa, null, Timeout, CancellationToken.None));

        using var stranger = TsigKey.Parse("hmac-sha256:stranger-key:" + Convert.ToBase64String(new byte[32]));
        var e = await Assert.ThrowsAsync<NotifyException>(() => sender.SendNotifyAsync(bind.Server.Endpoint, BindFixture.Secondary, soa, stranger, Timeout, CancellationToken.None));
        Assert.Equal(DnsFailure.Tsig, e.Failure);
        Assert.Contains("BADKEY", e.Message, StringComparison.Ordinal);
    }
}
