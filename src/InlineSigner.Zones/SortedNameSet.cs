using System.Collections.Immutable;
using ARSoft.Tools.Net;

namespace InlineSigner.Zones;

/// <summary>
/// Neighbour lookups on a canonically ordered set of names (<see cref="Zone.Names"/>, <see cref="Zone.OwnersOf"/>),
/// each O(log n): <see cref="ImmutableSortedSet{T}.IndexOf"/> returns the complement of the insertion point for a
/// name that is absent, so the name before or after any name, present or not, is one index away.
/// </summary>
public static class SortedNameSet
{
    /// <summary>The greatest name of the set that sorts before <paramref name="name"/>, or null.</summary>
    public static DomainName? Before(this ImmutableSortedSet<DomainName> set, DomainName name)
    {
        int index = set.IndexOf(name);
        int before = (index >= 0 ? index : ~index) - 1;
        return before >= 0 ? set[before] : null;
    }

    /// <summary>The least name of the set that sorts after <paramref name="name"/>, or null.</summary>
    public static DomainName? After(this ImmutableSortedSet<DomainName> set, DomainName name)
    {
        int index = set.IndexOf(name);
        int after = index >= 0 ? index + 1 : ~index;
        return after < set.Count ? set[after] : null;
    }

    /// <summary>The name before <paramref name="name"/>, wrapping round to the last one (as an NSEC chain does); null for an empty set.</summary>
    public static DomainName? BeforeCyclic(this ImmutableSortedSet<DomainName> set, DomainName name) =>
        set.Before(name) ?? (set.Count > 0 ? set.Max : null);

    /// <summary>The name after <paramref name="name"/>, wrapping round to the first one; null for an empty set.</summary>
    public static DomainName? AfterCyclic(this ImmutableSortedSet<DomainName> set, DomainName name) =>
        set.After(name) ?? (set.Count > 0 ? set.Min : null);

    /// <summary>The names strictly below <paramref name="ancestor"/>, in canonical order: in that order they follow
    /// the ancestor without a gap, so the walk stops at the first name that is not below it.</summary>
    public static IEnumerable<DomainName> Below(this ImmutableSortedSet<DomainName> set, DomainName ancestor)
    {
        int index = set.IndexOf(ancestor);
        for (int i = index >= 0 ? index + 1 : ~index; i < set.Count; i++)
        {
            var name = set[i];
            if (!ZoneChecks.IsAtOrBelow(name, ancestor)) yield break;
            yield return name;
        }
    }
}
