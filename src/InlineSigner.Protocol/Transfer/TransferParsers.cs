using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Protocol.Transfer;

/// <summary>The answer broke the protocol in a way the parser can name.</summary>
internal sealed class TransferViolationException(DnsFailure failure, string message) : Exception(message)
{
    public DnsFailure Failure { get; } = failure;
}

/// <summary>Consumes the answer records of a transfer, in order, and knows when the transfer is complete.</summary>
internal abstract class TransferParser<T>
{
    protected TransferParser(DomainName zone) => Zone = zone;

    protected DomainName Zone { get; }
    public bool IsComplete { get; protected set; }
    public abstract T Result { get; }
    public abstract void Add(DnsRecordBase record);

    /// <summary>The error for a connection closed (cleanly, between messages) before the transfer was complete.</summary>
    public abstract TransferViolationException ClosedEarly(long records);

    protected bool IsApexSoa(DnsRecordBase record, out SoaRecord soa)
    {
        soa = null!;
        if (record is not SoaRecord s) return false;
        if (!CanonicalNameComparer.Instance.Equals(s.Name, Zone))
            throw new TransferViolationException(DnsFailure.Malformed, $"a SOA record at {s.Name}, which is not the zone's apex");
        soa = s;
        return true;
    }

    /// <summary>RFC 5936 §2.2: the closing SOA is the opening one; RDATA compared in canonical form.</summary>
    protected static bool SameSoa(SoaRecord a, SoaRecord b) => RecordWire.CanonicalRData(a).AsSpan().SequenceEqual(RecordWire.CanonicalRData(b));

    protected SoaRecord RequireOpeningSoa(DnsRecordBase record)
    {
        if (!IsApexSoa(record, out var soa))
            throw new TransferViolationException(DnsFailure.Malformed, $"the first record is {record.Name} {Zones.Text.PresentationFormat.FormatType(record.RecordType)}, not the zone's SOA");
        return soa;
    }
}

/// <summary>AXFR (RFC 5936 §2.2): SOA, the zone's records, the same SOA again.</summary>
internal sealed class AxfrParser(DomainName zone) : TransferParser<IReadOnlyList<DnsRecordBase>>(zone)
{
    private readonly List<DnsRecordBase> _records = [];
    private SoaRecord? _opening;

    public override IReadOnlyList<DnsRecordBase> Result => IsComplete ? _records : throw new InvalidOperationException("the transfer is not complete");

    /// <summary>Continues an IXFR answered AXFR-style, whose opening SOA (and first record) were already read.</summary>
    public void Start(SoaRecord opening)
    {
        _opening = opening;
        _records.Add(opening);
    }

    public override void Add(DnsRecordBase record)
    {
        if (_opening is null)
        {
            Start(RequireOpeningSoa(record));
            return;
        }
        if (IsApexSoa(record, out var closing))
        {
            if (!SameSoa(_opening, closing))
                throw new TransferViolationException(DnsFailure.SoaMismatch, $"the closing SOA (serial {closing.SerialNumber}) differs from the opening SOA (serial {_opening.SerialNumber})");
            IsComplete = true;
            return;
        }
        _records.Add(record);
    }

    public override TransferViolationException ClosedEarly(long records) =>
        new(DnsFailure.ConnectionClosed, $"the primary closed the connection after {records} records, before the closing SOA");
}

/// <summary>
/// IXFR (RFC 1995 §4): the newest SOA, then either nothing (we are current), or deltas (old SOA, deletions, new SOA,
/// additions; each starting where the previous ended), or the whole zone AXFR-style; and the newest SOA again.
/// </summary>
internal sealed class IxfrParser(DomainName zone, uint currentSerial) : TransferParser<IxfrResult>(zone)
{
    private enum State
    {
        First,
        Second,
        Deleting,
        Adding,
        WholeZone,
    }

    private readonly List<IxfrDelta> _deltas = [];
    private State _state = State.First;
    private SoaRecord? _newest;
    private SoaRecord? _from;
    private SoaRecord? _to;
    private List<DnsRecordBase> _deleted = [];
    private List<DnsRecordBase> _added = [];
    private AxfrParser? _wholeZone;
    private IxfrResult? _result;

    public override IxfrResult Result => _result ?? throw new InvalidOperationException("the transfer is not complete");

    public override void Add(DnsRecordBase record)
    {
        switch (_state)
        {
            case State.First:
                _newest = RequireOpeningSoa(record);
                if (!SerialNumber.IsNewer(_newest.SerialNumber, currentSerial))
                {
                    // RFC 1995 §2: we are current (or ahead, or 2^31 apart where RFC 1982 gives no order): its SOA alone.
                    _result = new IxfrResult.UpToDate(_newest);
                    IsComplete = true;
                    return;
                }
                _state = State.Second;
                return;
            case State.Second:
                if (IsApexSoa(record, out var second))
                {
                    if (SameSoa(second, _newest!))
                    {
                        // AXFR-style answer of a zone that holds nothing but its SOA.
                        Finish(new IxfrResult.Full(_newest!, [_newest!]));
                        return;
                    }
                    if (second.SerialNumber != currentSerial)
                        throw Violation($"the first delta starts at serial {second.SerialNumber}, but we asked from {currentSerial}");
                    StartDelta(second);
                    return;
                }
                _wholeZone = new AxfrParser(Zone);
                _wholeZone.Start(_newest!);
                _wholeZone.Add(record);
                _state = State.WholeZone;
                return;
            case State.Deleting:
                if (IsApexSoa(record, out var to))
                {
                    if (!SerialNumber.IsNewer(to.SerialNumber, _from!.SerialNumber))
                        throw Violation($"a delta goes from serial {_from.SerialNumber} to {to.SerialNumber}, which is not newer");
                    if (SerialNumber.IsNewer(to.SerialNumber, _newest!.SerialNumber))
                        throw Violation($"a delta goes to serial {to.SerialNumber}, beyond the primary's current {_newest.SerialNumber}");
                    _to = to;
                    _state = State.Adding;
                    return;
                }
                _deleted.Add(record);
                return;
            case State.Adding:
                if (IsApexSoa(record, out var soa))
                {
                    _deltas.Add(new IxfrDelta(_from!, _deleted, _to!, _added));
                    if (_to!.SerialNumber == _newest!.SerialNumber)
                    {
                        // The deltas reached the newest version: this SOA must be the closing one.
                        if (!SameSoa(soa, _newest))
                            throw new TransferViolationException(DnsFailure.SoaMismatch, $"the closing SOA (serial {soa.SerialNumber}) differs from the opening SOA (serial {_newest.SerialNumber})");
                        Finish(new IxfrResult.Incremental(_newest, _deltas));
                        return;
                    }
                    if (soa.SerialNumber != _to.SerialNumber)
                    {
                        throw Violation(soa.SerialNumber == _newest.SerialNumber
                            ? $"the answer ends at serial {_to.SerialNumber}, short of the primary's current {_newest.SerialNumber}"
                            : $"serials do not chain: a delta ends at {_to.SerialNumber} and the next starts at {soa.SerialNumber}");
                    }
                    StartDelta(soa);
                    return;
                }
                _added.Add(record);
                return;
            case State.WholeZone:
                _wholeZone!.Add(record);
                if (_wholeZone.IsComplete) Finish(new IxfrResult.Full(_newest!, _wholeZone.Result));
                return;
        }
    }

    private void StartDelta(SoaRecord from)
    {
        _from = from;
        _deleted = [];
        _added = [];
        _state = State.Deleting;
    }

    private void Finish(IxfrResult result)
    {
        _result = result;
        IsComplete = true;
    }

    private static TransferViolationException Violation(string message) => new(DnsFailure.Malformed, message);

    public override TransferViolationException ClosedEarly(long records) => _state switch
    {
        State.Second => new(DnsFailure.IxfrUnavailable,
            $"the primary answered with only its SOA (serial {_newest!.SerialNumber}, newer than our {currentSerial}): it offers no increment; transfer with AXFR"),
        State.First => new(DnsFailure.ConnectionClosed, "the primary closed the connection without sending a record"),
        _ => new(DnsFailure.ConnectionClosed, $"the primary closed the connection after {records} records, before the final SOA"),
    };
}
