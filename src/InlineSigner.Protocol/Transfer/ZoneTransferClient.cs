using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Protocol.Wire;
using InlineSigner.Protocol.Transfer;
using InlineSigner.Zones;

namespace InlineSigner.Protocol;

/// <summary>
/// Pulls zones from a primary: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, and the SOA query (UDP, TCP when
/// truncated) that tells whether a transfer is due. Transfers read raw length-prefixed messages one by one: ARSoft's
/// client matches every message by ID and question, and BIND sends the question only in the first. Every answer is
/// checked (IDs, RCODE, record order, zone membership, TSIG on every signed message, size limits) and every failure is a
/// <see cref="ZoneTransferException"/> naming the primary, the zone and what is wrong.
/// </summary>
public sealed class ZoneTransferClient
{
    private const int MaxMessage = 65535;
    private readonly TimeProvider _clock;

    public ZoneTransferClient(ZoneTransferLimits? limits = null, TimeProvider? clock = null)
    {
        Limits = limits ?? ZoneTransferLimits.Default;
        if (Limits.MaxRecords <= 0 || Limits.MaxBytes <= 0 || Limits.MaxDuration <= TimeSpan.Zero)
            throw new ArgumentException("transfer limits must be positive", nameof(limits));
        _clock = clock ?? TimeProvider.System;
    }

    public ZoneTransferLimits Limits { get; }

    /// <summary>Transfers the whole zone.</summary>
    /// <param name="key">Signs the request; every signed answer message must verify with it. Null: no TSIG.</param>
    /// <param name="timeout">The longest wait for the connection and for each message.</param>
    /// <returns>The zone's records as sent, its SOA first, without the closing SOA.</returns>
    public Task<IReadOnlyList<DnsRecordBase>> AxfrAsync(IPEndPoint primary, DomainName zone, TsigKey? key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Validate(primary, zone, timeout);
        return TransferAsync("AXFR", primary, zone, RecordType.Axfr, null, key, timeout, new AxfrParser(zone), cancellationToken);
    }

    /// <summary>Asks for the changes since <paramref name="currentSerial"/>.</summary>
    /// <returns>Up to date, the deltas, or the whole zone when the primary answers AXFR-style.</returns>
    public Task<IxfrResult> IxfrAsync(IPEndPoint primary, DomainName zone, uint currentSerial, TsigKey? key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Validate(primary, zone, timeout);
        // RFC 1995 §3: our version goes as a SOA in the authority section; servers read only its serial.
        var ours = new SoaRecord(zone, 0, DomainName.Root, DomainName.Root, currentSerial, 0, 0, 0, 0);
        return TransferAsync("IXFR", primary, zone, RecordType.Ixfr, ours, key, timeout, new IxfrParser(zone, currentSerial), cancellationToken);
    }

    /// <summary>Asks the primary for the zone's SOA over UDP (over TCP when the answer is truncated). The answer must be
    /// authoritative (AA).</summary>
    public async Task<SoaRecord> SoaQueryAsync(IPEndPoint primary, DomainName zone, TsigKey? key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Validate(primary, zone, timeout);
        var context = new Context("SOA query", primary, zone);
        try
        {
            var (query, id, signed) = BuildQuery(zone, RecordType.Soa, null, key);
            using (var verifier = signed?.CreateResponseVerifier())
            {
                var (buffer, length) = await UdpExchange.ExchangeAsync(primary, query, (b, n) => IsResponseTo(b, n, id, OperationCode.Query), timeout, cancellationToken).ConfigureAwait(false);
                if (!MessageHeader.Read(buffer.AsSpan(0, length)).IsTruncated)
                    return ReadSoaAnswer(context, buffer, length, verifier);
            }
            // Truncated: ask again over TCP, with a fresh ID and signature.
            (query, id, signed) = BuildQuery(zone, RecordType.Soa, null, key);
            using var tcpVerifier = signed?.CreateResponseVerifier();
            await using var connection = await DnsTcpConnection.ConnectAsync(primary, timeout, cancellationToken).ConfigureAwait(false);
            await connection.SendAsync(query, timeout, cancellationToken).ConfigureAwait(false);
            var tcpBuffer = new byte[MaxMessage];
            int tcpLength = await connection.ReceiveAsync(tcpBuffer, timeout, cancellationToken).ConfigureAwait(false);
            // The connection is ours alone: its first message must be the answer (no stray datagrams to skip here).
            if (!IsResponseTo(tcpBuffer, tcpLength, id, OperationCode.Query))
                throw context.Fail(DnsFailure.Malformed, "the answer over TCP is not a response to our query (ID, QR or opcode differ)");
            return ReadSoaAnswer(context, tcpBuffer, tcpLength, tcpVerifier);
        }
        catch (Exception e) when (Translate(context, e, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    private static bool IsResponseTo(byte[] buffer, int length, ushort id, OperationCode opcode)
    {
        if (length < MessageHeader.Length) return false;
        var header = MessageHeader.Read(buffer.AsSpan(0, length));
        return header.Id == id && header.IsResponse && header.OperationCode == opcode;
    }

    private SoaRecord ReadSoaAnswer(Context context, byte[] buffer, int length, TsigResponseVerifier? verifier)
    {
        length = VerifyTsig(context, verifier, buffer, length, last: true);
        var reader = new MessageReader(buffer, length);
        var header = reader.Header;
        CheckReturnCode(context, header.ReturnCode);
        if (!header.IsAuthoritative)
            throw context.Fail(DnsFailure.NotAuthoritative, "the answer lacks the AA bit: the server is not authoritative for the zone");
        CheckQuestions(context, reader, RecordType.Soa, required: true);
        SoaRecord? soa = null;
        for (int i = 0; i < header.AnswerCount; i++)
        {
            var record = reader.ReadRecord();
            if (record is SoaRecord s && CanonicalNameComparer.Instance.Equals(s.Name, context.Zone))
            {
                if (soa is not null) throw context.Fail(DnsFailure.Malformed, "the answer has more than one SOA for the zone");
                soa = s;
            }
        }
        return soa ?? throw context.Fail(DnsFailure.Malformed, "the answer has no SOA record for the zone");
    }

    private async Task<T> TransferAsync<T>(string kind, IPEndPoint primary, DomainName zone, RecordType type, SoaRecord? authority, TsigKey? key,
        TimeSpan timeout, TransferParser<T> parser, CancellationToken cancellationToken)
    {
        var context = new Context(kind, primary, zone);
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        overall.CancelAfter(Limits.MaxDuration);
        try
        {
            var (query, id, signed) = BuildQuery(zone, type, authority, key);
            using var verifier = signed?.CreateResponseVerifier();
            await using var connection = await DnsTcpConnection.ConnectAsync(primary, timeout, overall.Token).ConfigureAwait(false);
            await connection.SendAsync(query, timeout, overall.Token).ConfigureAwait(false);
            var buffer = new byte[MaxMessage];
            long records = 0, octets = 0;
            int messages = 0;
            while (!parser.IsComplete)
            {
                int length;
                try
                {
                    length = await connection.ReceiveAsync(buffer, timeout, overall.Token).ConfigureAwait(false);
                }
                catch (StreamFailureException e) when (e.Failure == ReadFailure.ClosedBetweenMessages)
                {
                    throw parser.ClosedEarly(records);
                }
                messages++;
                octets += length;
                if (octets > Limits.MaxBytes)
                    throw context.Fail(DnsFailure.LimitExceeded, $"the transfer exceeds the limit of {Limits.MaxBytes} octets");
                var raw = MessageHeader.Read(buffer.AsSpan(0, length));
                if (!raw.IsResponse) throw context.Fail(DnsFailure.Malformed, $"message {messages} is not a response (QR is 0)");
                if (raw.Id != id) throw context.Fail(DnsFailure.Malformed, $"message {messages} has ID {raw.Id}, but the query had {id}");
                length = VerifyTsig(context, verifier, buffer, length, last: false);
                var reader = new MessageReader(buffer, length);
                var header = reader.Header;
                if (header.OperationCode != OperationCode.Query)
                    throw context.Fail(DnsFailure.Malformed, $"message {messages} has opcode {header.OperationCode}, not QUERY");
                CheckReturnCode(context, header.ReturnCode);
                if (header.IsTruncated) throw context.Fail(DnsFailure.Malformed, $"message {messages} has the TC bit set, which a TCP answer must not");
                CheckQuestions(context, reader, type, required: false);
                for (int i = 0; i < header.AnswerCount; i++)
                {
                    if (parser.IsComplete)
                        throw context.Fail(DnsFailure.Malformed, $"{header.AnswerCount - i} records follow the final SOA in message {messages}");
                    var record = reader.ReadRecord();
                    if (++records > Limits.MaxRecords)
                        throw context.Fail(DnsFailure.LimitExceeded, $"the transfer exceeds the limit of {Limits.MaxRecords} records");
                    if (record.RecordClass != RecordClass.INet)
                        throw context.Fail(DnsFailure.Malformed, $"record {record.Name} {record.RecordType} has class {(ushort)record.RecordClass}, not IN");
                    if (!IsInZone(record.Name, zone))
                        throw context.Fail(DnsFailure.OutOfZone, $"record {record.Name} {record.RecordType} is outside the zone");
                    parser.Add(record);
                }
            }
            if (verifier is not null)
            {
                try
                {
                    verifier.Complete();
                }
                catch (TsigException e)
                {
                    throw context.Fail(DnsFailure.Tsig, $"TSIG: {e.Message}", e.Error, e);
                }
            }
            return parser.Result;
        }
        catch (Exception e) when (Translate(context, e, cancellationToken, overall.IsCancellationRequested ? Limits.MaxDuration : null) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>Runs TSIG verification; an unsigned error answer to a signed request is reported by its RCODE.</summary>
    private int VerifyTsig(Context context, TsigResponseVerifier? verifier, byte[] buffer, int length, bool last)
    {
        if (verifier is null) return length;
        try
        {
            int stripped = verifier.Verify(buffer, length, _clock.GetUtcNow());
            if (last) verifier.Complete();
            return stripped;
        }
        catch (TsigException e)
        {
            var header = MessageHeader.Read(buffer.AsSpan(0, length));
            if (!e.ReportedByServer && header.ReturnCode != ReturnCode.NoError)
            {
                // A server that refuses before looking at the signature answers unsigned; its RCODE is the real story.
                var failure = FailureOf(header.ReturnCode);
                throw context.Fail(failure, $"the primary answered {RcodeText(header.ReturnCode)} without a verifiable TSIG signature ({e.Message})", header.ReturnCode, e);
            }
            throw context.Fail(DnsFailure.Tsig, $"TSIG: {e.Message}", e.Error, e);
        }
    }

    private static void CheckReturnCode(Context context, ReturnCode code)
    {
        if (code == ReturnCode.NoError) return;
        string what = code switch
        {
            ReturnCode.Refused => "the primary refused (REFUSED)",
            ReturnCode.NotAuthoritive => "the primary is not authoritative for the zone (NOTAUTH)",
            _ => $"the primary answered {RcodeText(code)}",
        };
        throw context.Fail(FailureOf(code), what, code);
    }

    private static DnsFailure FailureOf(ReturnCode code) => code switch
    {
        ReturnCode.Refused => DnsFailure.Refused,
        ReturnCode.NotAuthoritive => DnsFailure.NotAuthoritative,
        _ => DnsFailure.ServerError,
    };

    internal static string RcodeText(ReturnCode code) => (int)code switch
    {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => $"RCODE {(int)code}",
    };

    private static void CheckQuestions(Context context, MessageReader reader, RecordType type, bool required)
    {
        int count = reader.Header.QuestionCount;
        if (count > 1 || (required && count == 0))
            throw context.Fail(DnsFailure.Malformed, $"the answer has {count} questions");
        if (count == 0) return;
        var (name, qtype, qclass) = reader.ReadQuestion();
        if (!CanonicalNameComparer.Instance.Equals(name, context.Zone) || qtype != type || qclass != RecordClass.INet)
            throw context.Fail(DnsFailure.Malformed, $"the answer's question is {name} {qtype} (class {(ushort)qclass}), not what we asked");
    }

    internal static bool IsInZone(DomainName name, DomainName zone)
    {
        int extra = name.LabelCount - zone.LabelCount;
        if (extra < 0) return false;
        for (int i = 0; i < zone.LabelCount; i++)
            if (CanonicalNameComparer.CompareLabel(name.Labels[extra + i], zone.Labels[i]) != 0) return false;
        return true;
    }

    private (byte[] Query, ushort Id, TsigSignedRequest? Signed) BuildQuery(DomainName zone, RecordType type, SoaRecord? authority, TsigKey? key)
    {
        ushort id = QueryBuilder.NewId();
        var query = QueryBuilder.Build(id, OperationCode.Query, false, zone, type, authority: authority);
        if (key is null) return (query, id, null);
        var signed = TsigClient.SignRequest(query, key, _clock.GetUtcNow());
        return (signed.Message, id, signed);
    }

    private static void Validate(IPEndPoint primary, DomainName zone, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(zone);
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the timeout must be positive");
    }

    /// <summary>Turns whatever failed into the typed error; null (rethrow as is) for the caller's cancellation and for
    /// errors already typed.</summary>
    private static ZoneTransferException? Translate(Context context, Exception e, CancellationToken callerToken, TimeSpan? overallLimit = null) => e switch
    {
        ZoneTransferException => null,
        OperationCanceledException when callerToken.IsCancellationRequested => null,
        OperationCanceledException when overallLimit is { } limit => context.Fail(DnsFailure.Timeout, $"the transfer took longer than its limit of {limit}"),
        StreamFailureException s => context.Fail(s.Failure switch
        {
            ReadFailure.Timeout => DnsFailure.Timeout,
            ReadFailure.Network => DnsFailure.Network,
            _ => DnsFailure.ConnectionClosed,
        }, s.Message, inner: s),
        TransferViolationException v => context.Fail(v.Failure, v.Message),
        DnsFormatException f => context.Fail(DnsFailure.Malformed, $"unreadable answer: {f.Message}", inner: f),
        TsigException t => context.Fail(DnsFailure.Tsig, $"TSIG: {t.Message}", t.Error, t),
        _ => null,
    };

    private sealed record Context(string Kind, IPEndPoint Primary, DomainName Zone)
    {
        public ZoneTransferException Fail(DnsFailure failure, string what, ReturnCode? code = null, Exception? inner = null) =>
            new($"{Kind} of {Zone} from {Primary}: {what}", Primary, Zone, failure, code, inner);
    }
}
