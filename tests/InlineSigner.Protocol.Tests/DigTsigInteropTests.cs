using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Tests.Shared.Dns;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Protocol.Tests;

/// <summary>
/// Our server-side TSIG against dig's: dig signs its queries with <c>-y</c>, <see cref="TsigServer"/> verifies them, and
/// dig verifies every message of our signed answer, chained (RFC 8945 §5.3.1), for each algorithm.
/// </summary>
public sealed partial class DigTsigInteropTests
{
    private static readonly DomainName Zone = DomainName.Parse("fake.test");
    private static readonly SoaRecord Soa = new(Zone, 300, DomainName.Parse("ns1.fake.test"), DomainName.Parse("hostmaster.fake.test"), 42, 3600, 600, 86400, 60);

    [GeneratedRegex(@"XFR size: (\d+) records \(messages (\d+), bytes \d+\)")]
    private static partial Regex XfrSize();

    /// <summary>A primary that answers an AXFR with <paramref name="messages"/> messages, signing those
    /// <paramref name="signs"/> picks (plus always the first and last), and signed SOA answers over UDP.</summary>
    private static FakeServer SigningPrimary(Dictionary<DomainName, TsigKey> keys, int messages, Func<int, bool> signs, List<ReturnCode> seen)
    {
        return new FakeServer(async c =>
        {
            var check = TsigServer.Verify(c.Request, c.Request.Length, keys, DateTimeOffset.UtcNow);
            lock (seen) seen.Add(check?.Error ?? ReturnCode.NoError);
            if (check is not { Verified: true })
            {
                var refusal = Messages.Response(c.RequestId, Zone, RecordType.Axfr, [], 0x8409); // NOTAUTH (RFC 8945 §5.2)
                await c.SendAsync(check?.Signer is { } errorSigner ? Sign(errorSigner, refusal) : refusal);
                return;
            }
            for (int i = 0; i < messages; i++)
            {
                var records = new List<DnsRecordBase>();
                if (i == 0) records.Add(Soa);
                records.AddRange(Messages.Records(Zone, $"host{i} 300 A 192.0.2.{i % 250}\nhost{i} 300 TXT \"message {i}\""));
                if (i == messages - 1) records.Add(Soa);
                var message = Messages.Response(c.RequestId, i == 0 ? Zone : null, RecordType.Axfr, records);
                if (i == 0 || i == messages - 1 || signs(i))
                {
                    await c.SendAsync(Sign(check.Signer!, message));
                }
                else
                {
                    check.Signer!.AppendUnsigned(message);
                    await c.SendAsync(message);
                }
            }
        },
        udp =>
        {
            var check = TsigServer.Verify(udp, udp.Length, keys, DateTimeOffset.UtcNow);
            lock (seen) seen.Add(check?.Error ?? ReturnCode.NoError);
            var answer = Messages.Response(BinaryPrimitives.ReadUInt16BigEndian(udp), Zone, RecordType.Soa, check is { Verified: true } ? [Soa] : [],
                check is { Verified: true } ? Messages.ResponseFlags : (ushort)0x8409);
            return check?.Signer is { } signer ? Sign(signer, answer) : answer;
        });
    }

    private static byte[] Sign(TsigResponseSigner signer, byte[] message)
    {
        var buffer = new byte[message.Length + signer.MaxTsigLength];
        message.CopyTo(buffer, 0);
        return buffer[..signer.Sign(buffer, message.Length)];
    }

    private static Task<ToolResult> Dig(FakeServer server, string key, params string[] arguments) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", server.Endpoint.Port.ToString(CultureInfo.InvariantCulture), "+time=5", "+tries=1", "-y", key, .. arguments], timeout: TimeSpan.FromSeconds(60));

    [Theory]
    [InlineData("hmac-sha256")]
    [InlineData("hmac-sha224")]
    [InlineData("hmac-sha384")]
    [InlineData("hmac-sha512")]
    [InlineData("hmac-sha1")]
    [InlineData("hmac-md5")]
    public async Task Dig_verifies_every_message_of_our_signed_AXFR(string algorithm)
    {
        var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        using var key = TsigKey.Parse($"{algorithm}:xfr-key:{secret}");
        var seen = new List<ReturnCode>();
        await using var server = SigningPrimary(new() { [key.Name] = key }, messages: 12, signs: _ => true, seen);
        var dig = await Dig(server, $"{algorithm}:xfr-key:{secret}", "fake.test", "AXFR");
        var size = XfrSize().Match(dig.Output);
        Assert.True(size.Success, dig.All);
        Assert.Equal("12", size.Groups[2].Value);
        Assert.Equal(12 * 2 + 2, int.Parse(size.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.DoesNotContain("failure", dig.All, StringComparison.OrdinalIgnoreCase);
        Assert.Equal([ReturnCode.NoError], seen);

        var udp = await Dig(server, $"{algorithm}:xfr-key:{secret}", "fake.test", "SOA");
        Assert.Contains("42 3600 600 86400 60", udp.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("failure", udp.All, StringComparison.OrdinalIgnoreCase);
        Assert.Matches(@"xfr-key\.\s+0\s+ANY\s+TSIG\s+" + Regex.Escape(algorithm), udp.Output);
    }

    [Fact]
    public async Task Dig_accepts_a_stream_with_unsigned_messages_between_signed_ones()
    {
        var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        using var key = TsigKey.Parse($"hmac-sha256:xfr-key:{secret}");
        var seen = new List<ReturnCode>();
        await using var server = SigningPrimary(new() { [key.Name] = key }, messages: 40, signs: i => i % 9 == 0, seen);
        var dig = await Dig(server, $"hmac-sha256:xfr-key:{secret}", "fake.test", "AXFR");
        var size = XfrSize().Match(dig.Output);
        Assert.True(size.Success, dig.All);
        Assert.Equal("40", size.Groups[2].Value);
        Assert.DoesNotContain("failure", dig.All, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_wrong_secret_or_unknown_key_from_dig_is_rejected_with_the_TSIG_error()
    {
        using var key = TsigKey.Parse("hmac-sha256:xfr-key:" + Convert.ToBase64String(new byte[32]));
        var seen = new List<ReturnCode>();
        await using var server = SigningPrimary(new() { [key.Name] = key }, messages: 3, signs: _ => true, seen);
        var wrong = await Dig(server, "hmac-sha256:xfr-key:" + Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray()), "fake.test", "SOA");
        Assert.DoesNotContain("42 3600 600 86400 60", wrong.Output, StringComparison.Ordinal);
        Assert.Contains("BADSIG", wrong.All, StringComparison.Ordinal);
        var unknown = await Dig(server, "hmac-sha256:other-key:" + Convert.ToBase64String(new byte[32]), "fake.test", "SOA");
        Assert.Contains("BADKEY", unknown.All, StringComparison.Ordinal);
        var axfr = await Dig(server, "hmac-sha256:other-key:" + Convert.ToBase64String(new byte[32]), "fake.test", "AXFR");
        Assert.DoesNotMatch(XfrSize(), axfr.Output);
        Assert.Equal([ReturnCode.BadSig, ReturnCode.BadKey, ReturnCode.BadKey], seen);
    }
}
