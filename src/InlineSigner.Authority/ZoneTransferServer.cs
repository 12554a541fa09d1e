using System.Buffers;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>
/// Serves AXFR (RFC 5936) and IXFR (RFC 1995) of the zones in an <see cref="IZoneCatalog"/>:
/// <list type="bullet">
/// <item>AXFR streams one <see cref="ServedZone"/> snapshot from its first SOA to its last, in messages of up to 64 KiB
/// with name compression, so a version published meanwhile never mixes in.</item>
/// <item>IXFR answers a single SOA when the client is current, the journal's deltas when it covers the client's
/// serial, and the whole zone (AXFR-style) otherwise; over UDP, a response that does not fit one datagram becomes the
/// single SOA (RFC 1995 §2), telling the client to come back over TCP.</item>
/// <item>Each zone's <see cref="TransferAcl"/> decides who may transfer; everyone else gets REFUSED, counted.
/// A signed request is answered with every message signed (RFC 8945 §5.3.1) through <see cref="ITsigVerifier"/>.</item>
/// </list>
/// </summary>
public sealed class ZoneTransferServer : ITransferHandler
{
    private const int MaxMessage = 65535;

    private readonly IZoneCatalog _catalog;
    private readonly Func<DomainName, TransferAcl?> _aclFor;
    private readonly IJournal? _journal;
    private readonly ITsigVerifier? _tsig;
    private readonly IDnsMetrics _metrics;

    /// <param name="aclFor">The ACL of a zone, by origin (null: nobody may transfer it).</param>
    public ZoneTransferServer(IZoneCatalog catalog, Func<DomainName, TransferAcl?> aclFor, IJournal? journal = null,
        ITsigVerifier? tsig = null, IDnsMetrics? metrics = null)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _aclFor = aclFor ?? throw new ArgumentNullException(nameof(aclFor));
        _journal = journal;
        _tsig = tsig;
        _metrics = metrics ?? NoMetrics.Instance;
    }

    public async Task HandleAsync(DnsRequest request, IDnsResponseSink responses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responses);
        var message = request.Message;
        if (message.Questions.Count != 1)
        {
            await SendErrorAsync(request, responses, ReturnCode.FormatError, null, cancellationToken).ConfigureAwait(false);
            return;
        }
        var question = message.Questions[0];
        var zone = _catalog.FindZone(question.Name);
        string zoneName = question.Name.ToString();

        TsigCheck? tsig = _tsig?.Check(request);
        if (tsig is { Verified: false })
        {
            // RFC 8945 §5.2: NOTAUTH with the TSIG error in the (unsigned for BADKEY/BADSIG) TSIG record; a TSIG record
            // that cannot even be read is a plain FORMERR.
            _metrics.TransferRefused(zoneName);
            var code = tsig.Error == ReturnCode.FormatError ? ReturnCode.FormatError : ReturnCode.NotAuthoritive;
            await SendErrorAsync(request, responses, code, tsig.Signer, cancellationToken).ConfigureAwait(false);
            return;
        }
        var signer = tsig?.Signer;
        if (zone is { Expired: true } && CanonicalNameComparer.Instance.Equals(zone.Origin, question.Name))
        {
            // An expired zone is not handed on to secondaries either: their copies must expire too.
            await SendErrorAsync(request, responses, ReturnCode.ServerFailure, signer, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (zone is null || !CanonicalNameComparer.Instance.Equals(zone.Origin, question.Name) ||
            _aclFor(zone.Origin) is not { } acl || !acl.Allows(request.RemoteEndPoint.Address, tsig?.KeyName))
        {
            _metrics.TransferRefused(zoneName);
            await SendErrorAsync(request, responses, ReturnCode.Refused, signer, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (question.RecordType == RecordType.Axfr)
        {
            if (request.Transport == DnsTransport.Udp)
            {
                // RFC 5936 §4.2: AXFR needs a stream; over UDP it is a malformed request.
                await SendErrorAsync(request, responses, ReturnCode.FormatError, signer, cancellationToken).ConfigureAwait(false);
                return;
            }
            long octets = await SendFullZoneAsync(request, responses, zone, signer, cancellationToken).ConfigureAwait(false);
            _metrics.TransferServed(zone.Origin.ToString(), "AXFR", octets);
            return;
        }
        await ServeIxfrAsync(request, responses, zone, signer, cancellationToken).ConfigureAwait(false);
    }

    private async Task ServeIxfrAsync(DnsRequest request, IDnsResponseSink responses, ServedZone zone, ITsigResponseSigner? signer, CancellationToken cancellationToken)
    {
        // RFC 1995 §3: the client's version is the SOA in the authority section.
        var clientSoa = request.Message.AuthorityRecords.OfType<SoaRecord>().FirstOrDefault();
        if (clientSoa is null)
        {
            await SendErrorAsync(request, responses, ReturnCode.FormatError, signer, cancellationToken).ConfigureAwait(false);
            return;
        }
        string origin = zone.Origin.ToString();
        uint current = zone.Serial;
        if (!SerialIsBefore(clientSoa.SerialNumber, current))
        {
            long sent = await SendSingleSoaAsync(request, responses, zone, signer, cancellationToken).ConfigureAwait(false);
            _metrics.TransferServed(origin, "IXFR-SOA", sent);
            return;
        }
        var deltas = _journal is null ? null
            : await _journal.GetDeltasAsync(zone.Origin, clientSoa.SerialNumber, current, cancellationToken).ConfigureAwait(false);
        if (deltas is null || deltas.Count == 0 || deltas[0].From.SerialNumber != clientSoa.SerialNumber || deltas[^1].To.SerialNumber != current)
        {
            if (request.Transport == DnsTransport.Udp)
            {
                long soaOnly = await SendSingleSoaAsync(request, responses, zone, signer, cancellationToken).ConfigureAwait(false);
                _metrics.TransferServed(origin, "IXFR-SOA", soaOnly);
                return;
            }
            long full = await SendFullZoneAsync(request, responses, zone, signer, cancellationToken).ConfigureAwait(false);
            _metrics.TransferServed(origin, "IXFR-AXFR", full);
            return;
        }
        var stream = new TransferStream(request, responses, signer,
            request.Transport == DnsTransport.Udp ? Math.Min(responses.MaxMessageSize, UdpLimit(request)) : MaxMessage,
            singleMessage: request.Transport == DnsTransport.Udp);
        try
        {
            var soa = zone.SoaSet.Set;
            bool fits = await stream.AddAsync(zone.Origin, soa.Records[0], null, (uint)soa.Ttl, cancellationToken).ConfigureAwait(false);
            foreach (var delta in deltas)
            {
                fits = fits && await stream.AddAsync(delta.From.Name, delta.From, null, (uint)delta.From.TimeToLive, cancellationToken).ConfigureAwait(false);
                foreach (var record in delta.Deleted)
                    fits = fits && await stream.AddAsync(record.Name, record, null, (uint)record.TimeToLive, cancellationToken).ConfigureAwait(false);
                fits = fits && await stream.AddAsync(delta.To.Name, delta.To, null, (uint)delta.To.TimeToLive, cancellationToken).ConfigureAwait(false);
                foreach (var record in delta.Added)
                    fits = fits && await stream.AddAsync(record.Name, record, null, (uint)record.TimeToLive, cancellationToken).ConfigureAwait(false);
                if (!fits) break;
            }
            fits = fits && await stream.AddAsync(zone.Origin, soa.Records[0], null, (uint)soa.Ttl, cancellationToken).ConfigureAwait(false);
            if (!fits)
            {
                // Only over UDP can the answer not fit: send the SOA alone, the client retries over TCP (RFC 1995 §2).
                stream.Dispose();
                long soaOnly = await SendSingleSoaAsync(request, responses, zone, signer, cancellationToken).ConfigureAwait(false);
                _metrics.TransferServed(origin, "IXFR-SOA", soaOnly);
                return;
            }
            long octets = await stream.FinishAsync(cancellationToken).ConfigureAwait(false);
            _metrics.TransferServed(origin, "IXFR", octets);
        }
        finally
        {
            stream.Dispose();
        }
    }

    private static int UdpLimit(DnsRequest request) =>
        request.Message.IsEDnsEnabled && request.Message.EDnsOptions is { } opt ? Math.Max(512, (int)opt.UdpPayloadSize) : 512;

    /// <summary>RFC 1982: true when serial <paramref name="a"/> is older than <paramref name="b"/>.</summary>
    internal static bool SerialIsBefore(uint a, uint b) => a != b && unchecked((int)(b - a)) > 0;

    private static async Task<long> SendFullZoneAsync(DnsRequest request, IDnsResponseSink responses, ServedZone zone, ITsigResponseSigner? signer, CancellationToken cancellationToken)
    {
        var stream = new TransferStream(request, responses, signer, Math.Min(MaxMessage, responses.MaxMessageSize), singleMessage: false);
        try
        {
            var soaSet = zone.SoaSet.Set;
            var soa = soaSet.Records[0];
            Require(await stream.AddAsync(zone.Origin, soa, null, (uint)soaSet.Ttl, cancellationToken).ConfigureAwait(false));
            foreach (var set in zone.Zone.RRsets)
            {
                if (set.Type == RecordType.Soa) continue;
                var records = set.Records;
                // Canonical RDATA is precomputed; it equals the stored octets except for names lower-cased in the types
                // RFC 4034 §6.2 lists. RRSIG's only name is the signer's, whose case carries no meaning; the RFC 1035
                // types are written from their typed fields anyway; the rest are encoded as stored.
                bool canonicalIsExact = set.Type == RecordType.RrSig || !RecordWire.LowercasesRData(set.Type);
                for (int i = 0; i < records.Length; i++)
                {
                    var record = records[i];
                    uint ttl = (uint)(set.Type == RecordType.RrSig ? record.TimeToLive : set.Ttl);
                    Require(await stream.AddAsync(set.Owner, record, canonicalIsExact ? set.CanonicalRData[i] : null, ttl, cancellationToken).ConfigureAwait(false));
                }
            }
            Require(await stream.AddAsync(zone.Origin, soa, null, (uint)soaSet.Ttl, cancellationToken).ConfigureAwait(false));
            return await stream.FinishAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            stream.Dispose();
        }
    }

    private static void Require(bool added)
    {
        if (!added) throw new InvalidOperationException("a record larger than a whole transfer message");
    }

    private static async Task<long> SendSingleSoaAsync(DnsRequest request, IDnsResponseSink responses, ServedZone zone, ITsigResponseSigner? signer, CancellationToken cancellationToken)
    {
        var stream = new TransferStream(request, responses, signer, Math.Max(512, Math.Min(MaxMessage, responses.MaxMessageSize)), singleMessage: true);
        try
        {
            Require(await stream.AddAsync(zone.Origin, zone.SoaSet.Set.Records[0], null, (uint)zone.SoaSet.Set.Ttl, cancellationToken).ConfigureAwait(false));
            return await stream.FinishAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            stream.Dispose();
        }
    }

    private static async Task SendErrorAsync(DnsRequest request, IDnsResponseSink responses, ReturnCode code, ITsigResponseSigner? signer, CancellationToken cancellationToken)
    {
        var response = new DnsResponse
        {
            Id = request.Message.TransactionID,
            OperationCode = request.Message.OperationCode,
            Question = request.Message.Questions.Count == 1 ? request.Message.Questions[0] : null,
            ReturnCode = code,
        };
        var buffer = ArrayPool<byte>.Shared.Rent(MaxMessage);
        try
        {
            int limit = 512 - (signer?.MaxTsigLength ?? 0);
            int length = ResponseEncoder.Encode(response, buffer, Math.Max(512, limit));
            if (signer is not null) length = signer.Sign(buffer, length);
            await responses.SendAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Packs records into as few messages as fit, sending each full one (signed when asked) as it fills.</summary>
    private sealed class TransferStream : IDisposable
    {
        private readonly DnsRequest _request;
        private readonly IDnsResponseSink _responses;
        private readonly ITsigResponseSigner? _signer;
        private readonly bool _singleMessage;
        private readonly int _limit;
        private byte[]? _buffer;
        private WireWriter _writer;
        private int _answers;
        private bool _first = true;
        private bool _full;
        private long _octets;

        public TransferStream(DnsRequest request, IDnsResponseSink responses, ITsigResponseSigner? signer, int limit, bool singleMessage)
        {
            _request = request;
            _responses = responses;
            _signer = signer;
            _singleMessage = singleMessage;
            _limit = limit - (signer?.MaxTsigLength ?? 0);
            _buffer = ArrayPool<byte>.Shared.Rent(MaxMessage);
            _writer = StartMessage();
        }

        private WireWriter StartMessage()
        {
            var writer = new WireWriter(_buffer!, _limit);
            writer.WriteBytes(stackalloc byte[12]);
            if (_first)
            {
                // The question goes in the first message only, as BIND does (RFC 5936 §2.2.1 allows either).
                var question = _request.Message.Questions[0];
                writer.WriteName(question.Name);
                writer.WriteUInt16((ushort)question.RecordType);
                writer.WriteUInt16((ushort)question.RecordClass);
            }
            _answers = 0;
            return writer;
        }

        /// <summary>Adds a record, sending the current message first when the record does not fit in it; false when it
        /// does not fit and this stream cannot start another message (a single-message UDP answer).</summary>
        public ValueTask<bool> AddAsync(DomainName owner, DnsRecordBase record, byte[]? rdata, uint ttl, CancellationToken cancellationToken)
        {
            if (_full) return ValueTask.FromResult(false);
            var mark = _writer.Save();
            ResponseEncoder.WriteRecord(_writer, owner, record, rdata, ttl);
            if (!_writer.Overflowed)
            {
                _answers++;
                return ValueTask.FromResult(true);
            }
            _writer.Restore(mark);
            if (_singleMessage || _answers == 0)
            {
                _full = true;
                return ValueTask.FromResult(false);
            }
            return NextMessageAsync(owner, record, rdata, ttl, cancellationToken);
        }

        private async ValueTask<bool> NextMessageAsync(DomainName owner, DnsRecordBase record, byte[]? rdata, uint ttl, CancellationToken cancellationToken)
        {
            await SendCurrentAsync(cancellationToken).ConfigureAwait(false);
            _writer = StartMessage();
            ResponseEncoder.WriteRecord(_writer, owner, record, rdata, ttl);
            if (_writer.Overflowed) throw new InvalidOperationException($"record {record} does not fit a message of its own");
            _answers++;
            return true;
        }

        public async Task<long> FinishAsync(CancellationToken cancellationToken)
        {
            await SendCurrentAsync(cancellationToken).ConfigureAwait(false);
            return _octets;
        }

        private async Task SendCurrentAsync(CancellationToken cancellationToken)
        {
            var b = _buffer!;
            var message = _request.Message;
            b[0] = (byte)(message.TransactionID >> 8);
            b[1] = (byte)message.TransactionID;
            b[2] = 0x80 | 0x04; // QR, opcode QUERY, AA
            b[3] = 0;
            _writer.PatchUInt16(4, (ushort)(_first ? 1 : 0));
            _writer.PatchUInt16(6, (ushort)_answers);
            _writer.PatchUInt16(8, 0);
            _writer.PatchUInt16(10, 0);
            int length = _writer.Position;
            if (_signer is not null) length = _signer.Sign(b, length);
            await _responses.SendAsync(b.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            _octets += length;
            _first = false;
        }

        public void Dispose()
        {
            if (_buffer is null) return;
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
