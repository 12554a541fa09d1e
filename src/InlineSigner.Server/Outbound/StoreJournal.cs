using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Authority;
using InlineSigner.Storage;

namespace InlineSigner.Server.Outbound;

/// <summary>
/// The IXFR journal the transfer server reads, backed by the signer's database: each committed version's exact signed
/// delta, as it was served (same RRSIGs, same TTLs), so a secondary's IXFR deletes exactly what it holds.
/// </summary>
public sealed class StoreJournal(SignerStore store) : IJournal
{
    public async ValueTask<IReadOnlyList<Authority.JournalDelta>?> GetDeltasAsync(DomainName zone, uint fromSerial, uint toSerial, CancellationToken cancellationToken)
    {
        var entries = await store.JournalFromAsync(zone, fromSerial, cancellationToken);
        if (entries is null) return null;
        var deltas = new List<Authority.JournalDelta>();
        foreach (var entry in entries)
        {
            deltas.Add(ToTransferDelta(entry.Delta));
            if (entry.Delta.ToSerial == toSerial) return deltas;
        }
        return null; // the journal does not reach the serial being served (it is being written): send the full zone
    }

    /// <summary>A stored delta (its SOAs first in each list) as the transfer server wants it (SOAs apart).</summary>
    internal static Authority.JournalDelta ToTransferDelta(Storage.JournalDelta delta)
    {
        var fromSoa = delta.Removed.OfType<SoaRecord>().SingleOrDefault() ?? throw new InvalidDataException($"journal entry {delta.FromSerial}->{delta.ToSerial} removes no SOA");
        var toSoa = delta.Added.OfType<SoaRecord>().SingleOrDefault() ?? throw new InvalidDataException($"journal entry {delta.FromSerial}->{delta.ToSerial} adds no SOA");
        return new Authority.JournalDelta(fromSoa, delta.Removed.Where(r => !ReferenceEquals(r, fromSoa)).ToList(), toSoa,
            delta.Added.Where(r => !ReferenceEquals(r, toSoa)).ToList());
    }
}
