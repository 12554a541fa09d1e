using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol.Tsig;
using InlineSigner.Protocol.Wire;

namespace InlineSigner.Protocol;

/// <summary>Client-side TSIG (RFC 8945 §5.1, §5.3.2): signs a request and verifies the stream of responses to it.</summary>
public static class TsigClient
{
    /// <summary>The fudge we sign with: the ±5 minutes RFC 8945 §10 recommends.</summary>
    public const ushort DefaultFudge = 300;

    /// <summary>
    /// Signs a request: appends a TSIG record made with <paramref name="key"/> at <paramref name="now"/> (ARCOUNT
    /// incremented, the message's ID kept as the original ID).
    /// </summary>
    /// <exception cref="DnsFormatException">The message is not a readable DNS message, or is already signed.</exception>
    public static TsigSignedRequest SignRequest(ReadOnlySpan<byte> message, TsigKey key, DateTimeOffset now, ushort fudge = DefaultFudge)
    {
        ArgumentNullException.ThrowIfNull(key);
        var algorithm = TsigAlgorithms.DomainName(key.Algorithm);
        int macLength = TsigAlgorithms.MacLength(key.Algorithm);
        var buffer = new byte[message.Length + TsigRecord.WireLength(key.Name, algorithm, macLength, 0)];
        message.CopyTo(buffer);
        if (TsigRecord.Find(buffer, message.Length) is not null) throw new DnsFormatException("the request is already signed");
        ulong time = TsigRecord.ToWireTime(now);
        byte[] mac;
        using (var hmac = key.CreateMac())
        {
            hmac.Append(message);
            TsigRecord.AppendVariables(hmac, key.Name, algorithm, time, fudge, 0, []);
            mac = hmac.FinishAndReset();
        }
        ushort id = (ushort)((buffer[0] << 8) | buffer[1]);
        int length = TsigRecord.Append(buffer, message.Length, key.Name, algorithm, time, fudge, mac, id, 0, []);
        return new TsigSignedRequest(key, buffer[..length], mac);
    }
}

/// <summary>A request with its TSIG record, and the MAC its responses are chained to.</summary>
public sealed class TsigSignedRequest
{
    private readonly byte[] _mac;

    internal TsigSignedRequest(TsigKey key, byte[] message, byte[] mac)
    {
        Key = key;
        Message = message;
        _mac = mac;
    }

    public TsigKey Key { get; }

    /// <summary>The signed request in wire form.</summary>
    public byte[] Message { get; }

    public ReadOnlyMemory<byte> Mac => _mac;

    /// <summary>A verifier for the response stream to this request (one per request).</summary>
    public TsigResponseVerifier CreateResponseVerifier() => new(Key, _mac);
}

/// <summary>
/// Verifies the responses to one signed request, in order (RFC 8945 §5.3.1): the first must be signed over the request
/// MAC, the message and the TSIG variables; each later signed message over the prior MAC, the unsigned messages since,
/// itself and the TSIG timers. At most 99 unsigned messages may come in a row, and the last message must be signed
/// (<see cref="Complete"/>).
/// </summary>
public sealed class TsigResponseVerifier : IDisposable
{
    /// <summary>RFC 8945 §5.3.1: a server must sign at least every 100th message.</summary>
    public const int MaxUnsignedMessages = 99;

    private readonly TsigKey _key;
    private readonly TsigMac _mac;
    private readonly int _fullMacLength;
    private byte[] _priorMac;
    private bool _first = true;
    private int _unsigned;
    private int _messages;
    private bool _failed;

    internal TsigResponseVerifier(TsigKey key, byte[] requestMac)
    {
        _key = key;
        _mac = key.CreateMac();
        _fullMacLength = TsigAlgorithms.MacLength(key.Algorithm);
        _priorMac = requestMac;
    }

    /// <summary>True when the last message given to <see cref="Verify"/> was signed (and verified).</summary>
    public bool LastMessageSigned { get; private set; }

    /// <summary>
    /// Verifies the next response message and, when it is signed, rewrites it in place to what it was before signing (the
    /// TSIG record removed, ARCOUNT one less, the original ID restored) so that it parses like any message.
    /// </summary>
    /// <returns>The message's length without its TSIG record.</returns>
    /// <exception cref="TsigException">The message does not verify, is signed with another key, is out of the time
    /// window, breaks the 99-unsigned rule, or the server reports a TSIG error.</exception>
    /// <exception cref="DnsFormatException">The message cannot be read.</exception>
    public int Verify(byte[] message, int length, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_failed) throw new InvalidOperationException("this response stream already failed TSIG verification");
        try
        {
            return VerifyCore(message, length, now);
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    private int VerifyCore(byte[] message, int length, DateTimeOffset now)
    {
        _messages++;
        var tsig = TsigRecord.Find(message, length);
        if (tsig is null)
        {
            if (_first) throw new TsigException("the response is not signed", ReturnCode.BadSig, reportedByServer: false);
            if (++_unsigned > MaxUnsignedMessages)
                throw new TsigException($"{_unsigned} unsigned messages in a row (RFC 8945 §5.3.1 allows {MaxUnsignedMessages})", ReturnCode.BadSig, reportedByServer: false);
            _mac.Append(message.AsSpan(0, length));
            LastMessageSigned = false;
            return length;
        }
        if (tsig.Error != 0)
        {
            DateTimeOffset? serverTime = tsig.Error == (ushort)ReturnCode.BadTime && tsig.OtherData.Length == 6
                ? TsigRecord.FromWireTime(((ulong)tsig.OtherData[0] << 40) | ((ulong)tsig.OtherData[1] << 32) | ((ulong)tsig.OtherData[2] << 24) |
                    ((ulong)tsig.OtherData[3] << 16) | ((ulong)tsig.OtherData[4] << 8) | tsig.OtherData[5])
                : null;
            string clock = serverTime is { } t ? $" (its clock says {t:u}, ours {now:u})" : "";
            throw new TsigException($"the server rejected our TSIG signature with key {_key.Name}: {TsigRecord.ErrorText(tsig.Error)}{clock}",
                (ReturnCode)tsig.Error, reportedByServer: true, serverTime);
        }
        if (!_key.HasName(tsig.KeyName))
            throw new TsigException($"the response is signed with key {tsig.KeyName}, not {_key.Name}", ReturnCode.BadKey, reportedByServer: false);
        if (!TsigAlgorithms.TryParse(tsig.AlgorithmName, out var algorithm) || algorithm != _key.Algorithm)
            throw new TsigException($"the response is signed with algorithm {tsig.AlgorithmName}, not {TsigAlgorithms.Name(_key.Algorithm)}", ReturnCode.BadKey, reportedByServer: false);
        if (!TsigRecord.IsAllowedMacLength(tsig.Mac.Length, _fullMacLength))
            throw new TsigException($"the response's MAC has {tsig.Mac.Length} octets; {TsigAlgorithms.Name(algorithm)} allows {Math.Max(10, (_fullMacLength + 1) / 2)} to {_fullMacLength}", ReturnCode.FormatError, reportedByServer: false);

        if (_first)
        {
            TsigRecord.AppendPriorMac(_mac, _priorMac);
            tsig.AppendUnsignedMessage(_mac, message);
            TsigRecord.AppendVariables(_mac, tsig.KeyName, tsig.AlgorithmName, tsig.TimeSigned, tsig.Fudge, tsig.Error, tsig.OtherData);
        }
        else
        {
            // The prior MAC and the unsigned messages since are in the MAC already (fed as they came).
            tsig.AppendUnsignedMessage(_mac, message);
            TsigRecord.AppendTimers(_mac, tsig.TimeSigned, tsig.Fudge);
        }
        var expected = _mac.FinishAndReset();
        if (!CryptographicOperations.FixedTimeEquals(expected.AsSpan(0, tsig.Mac.Length), tsig.Mac))
            throw new TsigException($"the MAC of response message {_messages} does not verify with key {_key.Name}", ReturnCode.BadSig, reportedByServer: false);
        if (!tsig.IsTimely(now))
        {
            throw new TsigException($"response message {_messages} was signed at {TsigRecord.FromWireTime(tsig.TimeSigned):u}, more than its fudge of {tsig.Fudge} s from our clock ({now:u})",
                ReturnCode.BadTime, reportedByServer: false);
        }
        _first = false;
        _unsigned = 0;
        _priorMac = tsig.Mac;
        TsigRecord.AppendPriorMac(_mac, _priorMac);
        LastMessageSigned = true;
        return tsig.Strip(message);
    }

    /// <summary>Checks that the stream ended on a signed message (RFC 8945 §5.3.1).</summary>
    /// <exception cref="TsigException">No message, or the last one was unsigned.</exception>
    public void Complete()
    {
        if (_messages == 0 || !LastMessageSigned)
            throw new TsigException(_messages == 0 ? "no response to verify" : "the last message of the response is not signed", ReturnCode.BadSig, reportedByServer: false);
    }

    public void Dispose() => _mac.Dispose();
}
