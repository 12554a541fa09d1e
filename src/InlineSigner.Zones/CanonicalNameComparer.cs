using ARSoft.Tools.Net;

namespace InlineSigner.Zones;

/// <summary>
/// Canonical DNS name order of RFC 4034 §6.1: names compared label by label from the right,
/// each label as a case-folded (US-ASCII lower case) octet string, a shorter label sorting first.
/// We do not rely on ARSoft's <see cref="DomainName.CompareTo"/> for this because NSEC chains,
/// RRSIG input and IXFR diffs must agree byte for byte with BIND and ldns.
/// </summary>
public sealed class CanonicalNameComparer : IComparer<DomainName>, IEqualityComparer<DomainName>
{
    public static CanonicalNameComparer Instance { get; } = new();

    private CanonicalNameComparer() { }

    public int Compare(DomainName? x, DomainName? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        var xl = x.Labels;
        var yl = y.Labels;
        int i = xl.Length - 1, j = yl.Length - 1;
        while (i >= 0 && j >= 0)
        {
            int c = CompareLabel(xl[i], yl[j]);
            if (c != 0) return c;
            i--;
            j--;
        }
        return xl.Length.CompareTo(yl.Length);
    }

    /// <summary>Compares two labels as lower-cased octet strings (labels are stored as one char per octet).</summary>
    public static int CompareLabel(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int k = 0; k < n; k++)
        {
            int ca = ToLowerOctet(a[k]);
            int cb = ToLowerOctet(b[k]);
            if (ca != cb) return ca - cb;
        }
        return a.Length - b.Length;
    }

    public bool Equals(DomainName? x, DomainName? y) => Compare(x, y) == 0;

    public int GetHashCode(DomainName obj)
    {
        var h = new HashCode();
        foreach (var label in obj.Labels)
        {
            foreach (var ch in label) h.Add(ToLowerOctet(ch));
            h.Add(-1);
        }
        return h.ToHashCode();
    }

    internal static int ToLowerOctet(char c) => c is >= 'A' and <= 'Z' ? c + 32 : c;
}
