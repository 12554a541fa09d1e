using System.Collections.Immutable;
using ARSoft.Tools.Net;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>The zones a server is authoritative for, as seen by one query: implementations must be safe to call from
/// many threads at once and return immutable snapshots, so that a query sees one version from start to end.</summary>
public interface IZoneCatalog
{
    /// <summary>The served zone whose origin is the closest enclosing one of <paramref name="name"/> (the longest origin
    /// that <paramref name="name"/> is equal to or below), or null when no served zone contains it.</summary>
    ServedZone? FindZone(DomainName name);
}

/// <summary>
/// A thread-safe <see cref="IZoneCatalog"/> whose zones are swapped in atomically: <see cref="Publish"/> replaces a
/// zone's version in one reference assignment, so queries and transfers already running keep the version they took.
/// </summary>
public sealed class ZoneCatalog : IZoneCatalog
{
    private ImmutableDictionary<DomainName, ServedZone> _zones =
        ImmutableDictionary.Create<DomainName, ServedZone>(CanonicalNameComparer.Instance);

    public ZoneCatalog(params IEnumerable<ServedZone> zones)
    {
        foreach (var zone in zones) Publish(zone);
    }

    /// <summary>The zones being served, by origin.</summary>
    public IReadOnlyDictionary<DomainName, ServedZone> Zones => Volatile.Read(ref _zones);

    /// <summary>Starts serving <paramref name="zone"/>, or replaces the version of it being served.</summary>
    public void Publish(ServedZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        ImmutableInterlocked.Update(ref _zones, static (zones, z) => zones.SetItem(z.Origin, z), zone);
    }

    /// <summary>Stops serving the zone at <paramref name="origin"/>; true when it was served.</summary>
    public bool Remove(DomainName origin)
    {
        bool removed = false;
        ImmutableInterlocked.Update(ref _zones, (zones) =>
        {
            removed = zones.ContainsKey(origin);
            return zones.Remove(origin);
        });
        return removed;
    }

    public ServedZone? TryGet(DomainName origin) => Volatile.Read(ref _zones).GetValueOrDefault(origin);

    public ServedZone? FindZone(DomainName name)
    {
        var zones = Volatile.Read(ref _zones);
        if (zones.IsEmpty) return null;
        // From the name itself up to the root: the first origin met is the closest enclosing zone.
        for (int skip = 0; skip <= name.LabelCount; skip++)
        {
            var candidate = skip == 0 ? name : name.GetParentName(skip);
            if (zones.TryGetValue(candidate, out var zone)) return zone;
        }
        return null;
    }
}
