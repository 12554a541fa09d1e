using System.Buffers.Binary;
using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol.Tsig;
using InlineSigner.Protocol.Wire;
using InlineSigner.Zones;

namespace InlineSigner.Protocol;

/// <summary>The outcome of checking a request's TSIG record (RFC 8945 §5.2).</summary>
public sealed class TsigServerResult
{
    internal TsigServerResult(DomainName keyName, ReturnCode error, TsigResponseSigner? signer, int unsignedLength)
    {
        KeyName = keyName;
        Error = error;
        Signer = signer;
        UnsignedLength = unsignedLength;
    }

    /// <summary>The key the request names (the root name when the TSIG record could not be read).</summary>
    public DomainName KeyName { get; }

    /// <summary>NoError when the signature verified; else BADKEY, BADSIG, BADTIME, or FORMERR for an unreadable TSIG
    /// record or a MAC of a length RFC 8945 §5.2.2.1 forbids.</summary>
    public ReturnCode Error { get; }

    public bool Verified => Error == ReturnCode.NoError;

    /// <summary>
    /// Signs the response stream. After NoError: every message, chained (§5.3.1). After BADTIME: signed with the error and
    /// our clock (§5.2.3). After BADKEY or BADSIG: an unsigned TSIG record carrying the error (§5.2.1, §5.2.2). Null after
    /// FORMERR: the answer is a plain FORMERR.
    /// </summary>
    public TsigResponseSigner? Signer { get; }

    /// <summary>The request's length without its TSIG record.</summary>
    public int UnsignedLength { get; }
}

/// <summary>Server-side TSIG: checks a request's signature and signs the responses.</summary>
public static class TsigServer
{
    /// <summary>
    /// Checks the TSIG record of <paramref name="request"/>[0..<paramref name="length"/>) against <paramref name="keys"/>
    /// (by key name; the algorithm must match too) at time <paramref name="now"/>, in the order of RFC 8945 §5.2: key,
    /// MAC, time. Never throws for bad input: an unreadable request is FORMERR.
    /// </summary>
    /// <param name="clock">Supplies the Time Signed of each response message; the system clock when null.</param>
    /// <returns>Null when the request carries no TSIG record.</returns>
    public static TsigServerResult? Verify(byte[] request, int length, IReadOnlyDictionary<DomainName, TsigKey> keys, DateTimeOffset now, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, request.Length);
        clock ??= TimeProvider.System;
        TsigRecord? tsig;
        try
        {
            tsig = TsigRecord.Find(request, length);
        }
        catch (DnsFormatException)
        {
            return new TsigServerResult(DomainName.Root, ReturnCode.FormatError, null, length);
        }
        if (tsig is null) return null;

        var key = FindKey(keys, tsig.KeyName);
        if (key is null || !TsigAlgorithms.TryParse(tsig.AlgorithmName, out var algorithm) || algorithm != key.Algorithm)
            return Rejected(tsig, ReturnCode.BadKey, clock);
        if (!TsigRecord.IsAllowedMacLength(tsig.Mac.Length, TsigAlgorithms.MacLength(algorithm)))
            return new TsigServerResult(tsig.KeyName, ReturnCode.FormatError, null, tsig.Start);

        byte[] expected;
        using (var mac = key.CreateMac())
        {
            tsig.AppendUnsignedMessage(mac, request);
            TsigRecord.AppendVariables(mac, tsig.KeyName, tsig.AlgorithmName, tsig.TimeSigned, tsig.Fudge, tsig.Error, tsig.OtherData);
            expected = mac.FinishAndReset();
        }
        if (!CryptographicOperations.FixedTimeEquals(expected.AsSpan(0, tsig.Mac.Length), tsig.Mac))
            return Rejected(tsig, ReturnCode.BadSig, clock);
        if (!tsig.IsTimely(now))
            return new TsigServerResult(tsig.KeyName, ReturnCode.BadTime, new TsigResponseSigner(key, tsig, ReturnCode.BadTime, clock), tsig.Start);
        return new TsigServerResult(tsig.KeyName, ReturnCode.NoError, new TsigResponseSigner(key, tsig, ReturnCode.NoError, clock), tsig.Start);
    }

    private static TsigServerResult Rejected(TsigRecord tsig, ReturnCode error, TimeProvider clock) =>
        new(tsig.KeyName, error, new TsigResponseSigner(null, tsig, error, clock), tsig.Start);

    private static TsigKey? FindKey(IReadOnlyDictionary<DomainName, TsigKey> keys, DomainName name)
    {
        if (keys.TryGetValue(name, out var key) && key.HasName(name)) return key;
        // The caller's dictionary may compare names with case; key names never do (RFC 8945 §4.2: canonical form).
        foreach (var candidate in keys.Values)
            if (candidate.HasName(name)) return candidate;
        return null;
    }
}

/// <summary>
/// Signs the messages of one response stream (one instance per request: it carries the MAC chain). Every message given
/// to <see cref="Sign"/> is signed; a server that sends some messages unsigned passes them to
/// <see cref="AppendUnsigned"/> so that the next signature covers them (RFC 8945 §5.3.1).
/// </summary>
public sealed class TsigResponseSigner
{
    private readonly TsigKey? _key;
    private readonly DomainName _keyName;
    private readonly DomainName _algorithm;
    private readonly ReturnCode _error;
    private readonly TimeProvider _clock;
    private readonly ulong _requestTime;
    private readonly List<byte[]> _unsignedSince = [];
    private readonly int _macLength;
    private byte[] _priorMac;
    private bool _first = true;

    internal TsigResponseSigner(TsigKey? key, TsigRecord request, ReturnCode error, TimeProvider clock)
    {
        _key = key;
        _keyName = request.KeyName;
        _algorithm = key is null ? request.AlgorithmName : TsigAlgorithms.DomainName(key.Algorithm);
        _error = error;
        _clock = clock;
        _requestTime = request.TimeSigned;
        _priorMac = request.Mac;
        _macLength = key is null ? 0 : TsigAlgorithms.MacLength(key.Algorithm);
        MaxTsigLength = TsigRecord.WireLength(_keyName, _algorithm, _macLength, error == ReturnCode.BadTime ? 6 : 0);
    }

    /// <summary>The most octets <see cref="Sign"/> appends, so that writers keep room for it.</summary>
    public int MaxTsigLength { get; }

    /// <summary>Appends a TSIG record to the message in <paramref name="buffer"/>[0..<paramref name="length"/>) and
    /// increments ARCOUNT; returns the new length.</summary>
    /// <exception cref="ArgumentException">No room in the buffer for <see cref="MaxTsigLength"/> more octets.</exception>
    public int Sign(byte[] buffer, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, MessageHeader.Length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, buffer.Length);
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        ulong now = TsigRecord.ToWireTime(_clock.GetUtcNow());
        if (_key is null)
        {
            // BADKEY and BADSIG: we cannot (or must not) sign; the error travels in an unsigned TSIG record (§5.2.1, §5.2.2).
            return TsigRecord.Append(buffer, length, _keyName, _algorithm, now, TsigClient.DefaultFudge, [], id, (ushort)_error, []);
        }
        byte[] mac;
        ulong timeSigned;
        byte[] other = [];
        using (var hmac = _key.CreateMac())
        {
            TsigRecord.AppendPriorMac(hmac, _priorMac);
            foreach (var message in _unsignedSince) hmac.Append(message);
            hmac.Append(buffer.AsSpan(0, length));
            if (_first)
            {
                ushort error = 0;
                timeSigned = now;
                if (_error == ReturnCode.BadTime)
                {
                    // §5.2.3: the client's time signed goes back (so the client can verify the answer despite the skew),
                    // and our clock rides in the other data.
                    error = (ushort)ReturnCode.BadTime;
                    timeSigned = _requestTime;
                    other = TsigRecord.TimeOctets(now);
                }
                TsigRecord.AppendVariables(hmac, _keyName, _algorithm, timeSigned, TsigClient.DefaultFudge, error, other);
            }
            else
            {
                timeSigned = now;
                TsigRecord.AppendTimers(hmac, timeSigned, TsigClient.DefaultFudge);
            }
            mac = hmac.FinishAndReset();
        }
        int signed = TsigRecord.Append(buffer, length, _keyName, _algorithm, timeSigned, TsigClient.DefaultFudge, mac, id,
            _first && _error == ReturnCode.BadTime ? (ushort)ReturnCode.BadTime : (ushort)0, other);
        _first = false;
        _priorMac = mac;
        _unsignedSince.Clear();
        return signed;
    }

    /// <summary>Records a message sent without a TSIG record, to be covered by the next signed one.</summary>
    /// <exception cref="InvalidOperationException">The first message (it must be signed), or the 100th unsigned in a row.</exception>
    public void AppendUnsigned(ReadOnlySpan<byte> message)
    {
        if (_first) throw new InvalidOperationException("the first response message must be signed (RFC 8945 §5.3.1)");
        if (_unsignedSince.Count >= TsigResponseVerifier.MaxUnsignedMessages)
            throw new InvalidOperationException($"RFC 8945 §5.3.1: at most {TsigResponseVerifier.MaxUnsignedMessages} unsigned messages between signed ones");
        _unsignedSince.Add(message.ToArray());
    }
}
