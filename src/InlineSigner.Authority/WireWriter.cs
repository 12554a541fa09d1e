using System.Buffers.Binary;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Authority;

/// <summary>
/// Writes a DNS message into a caller's buffer up to a size limit, with name compression (RFC 1035 §4.1.4).
/// Overflow does not throw: it sets <see cref="Overflowed"/>, and the caller rolls back to a <see cref="Mark"/> taken
/// before the RRset that did not fit, which also forgets the compression targets written since.
/// Compression targets are found by a hash of each name suffix in a small chained hash table (a transfer message
/// holds hundreds of targets, and every record's owner is looked up: a linear scan made AXFR quadratic per message)
/// and confirmed against the octets already written, so a lookup allocates nothing.
/// </summary>
internal sealed class WireWriter
{
    private const int MaxTargets = 512;
    private readonly byte[] _buffer;
    // Target t sits in bucket Hash & (_heads.Length − 1); Next is the previous target of that bucket (−1: none).
    private (int Offset, int Hash, int Next)[] _targets = new (int, int, int)[16]; // grows: most responses need a handful
    private int[] _heads = NewHeads(16);                                              // bucket → latest target (−1: none)
    private int _targetCount;

    private static int[] NewHeads(int buckets)
    {
        var heads = new int[buckets];
        Array.Fill(heads, -1);
        return heads;
    }

    /// <summary>Rebuilds the buckets from the first <see cref="_targetCount"/> targets, with <paramref name="buckets"/> of them.</summary>
    private void Rehash(int buckets)
    {
        _heads = NewHeads(buckets);
        for (int t = 0; t < _targetCount; t++) Link(t);
    }

    private void Link(int t)
    {
        int bucket = _targets[t].Hash & (_heads.Length - 1);
        _targets[t].Next = _heads[bucket];
        _heads[bucket] = t;
    }

    public WireWriter(byte[] buffer, int limit)
    {
        _buffer = buffer;
        Limit = Math.Min(limit, buffer.Length);
    }

    public int Position { get; private set; }
    public int Limit { get; set; }
    public bool Overflowed { get; private set; }
    public byte[] Buffer => _buffer;

    public readonly record struct Mark(int Position, int TargetCount);

    public Mark Save() => new(Position, _targetCount);

    public void Restore(Mark mark)
    {
        Position = mark.Position;
        if (mark.TargetCount < _targetCount)
        {
            // Forgotten targets may head buckets or be linked from later ones: rebuild (rare: once per overflow).
            _targetCount = mark.TargetCount;
            Rehash(_heads.Length);
        }
        Overflowed = false;
    }

    private bool Reserve(int count)
    {
        if (Overflowed) return false;
        if (Position + count <= Limit) return true;
        Overflowed = true;
        return false;
    }

    public void WriteByte(byte value)
    {
        if (Reserve(1)) _buffer[Position++] = value;
    }

    public void WriteUInt16(ushort value)
    {
        if (!Reserve(2)) return;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(Position), value);
        Position += 2;
    }

    public void WriteUInt32(uint value)
    {
        if (!Reserve(4)) return;
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(Position), value);
        Position += 4;
    }

    public void WriteBytes(ReadOnlySpan<byte> data)
    {
        if (!Reserve(data.Length)) return;
        data.CopyTo(_buffer.AsSpan(Position));
        Position += data.Length;
    }

    public void PatchUInt16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(offset), value);

    /// <summary>Writes <paramref name="name"/>, compressed against names written before when <paramref name="compress"/>,
    /// and records its suffixes as targets for later names.</summary>
    public void WriteName(DomainName name, bool compress = true)
    {
        var labels = name.Labels;
        int n = labels.Length;
        Span<int> suffixHash = stackalloc int[n + 1];
        suffixHash[n] = 0;
        for (int i = n - 1; i >= 0; i--) suffixHash[i] = HashLabel(labels[i], suffixHash[i + 1]);

        int pointer = -1, matched = n;
        if (compress)
        {
            for (int i = 0; i < n && pointer < 0; i++)
            {
                for (int t = _heads[suffixHash[i] & (_heads.Length - 1)]; t >= 0; t = _targets[t].Next)
                {
                    if (_targets[t].Hash != suffixHash[i] || !SuffixMatches(_targets[t].Offset, labels, i)) continue;
                    pointer = _targets[t].Offset;
                    matched = i;
                    break;
                }
            }
        }
        for (int i = 0; i < matched; i++)
        {
            var label = labels[i];
            if (!Reserve(1 + label.Length)) return;
            if (Position < 0x3FFF && _targetCount < MaxTargets)
            {
                if (_targetCount == _targets.Length) Array.Resize(ref _targets, _targets.Length * 2);
                _targets[_targetCount] = (Position, suffixHash[i], -1);
                Link(_targetCount++);
                if (_targetCount > _heads.Length) Rehash(_heads.Length * 2); // about one target per bucket
            }
            _buffer[Position++] = (byte)label.Length;
            foreach (char c in label) _buffer[Position++] = (byte)c;
        }
        if (pointer >= 0) WriteUInt16((ushort)(0xC000 | pointer));
        else WriteByte(0);
    }

    private static int HashLabel(string label, int rest)
    {
        uint h = 2166136261u ^ (uint)rest;
        foreach (char c in label) h = (h ^ (uint)(c is >= 'A' and <= 'Z' ? c + 32 : c)) * 16777619u;
        return (int)(h ^ (uint)label.Length);
    }

    /// <summary>True when the name written at <paramref name="offset"/> (following pointers) equals labels[from..].</summary>
    private bool SuffixMatches(int offset, string[] labels, int from)
    {
        int p = offset;
        int i = from;
        for (int guard = 0; guard < 128; guard++)
        {
            byte length = _buffer[p];
            if ((length & 0xC0) == 0xC0)
            {
                p = ((length & 0x3F) << 8) | _buffer[p + 1];
                continue;
            }
            if (length == 0) return i == labels.Length;
            if (i == labels.Length) return false;
            var label = labels[i];
            if (label.Length != length) return false;
            for (int k = 0; k < length; k++)
            {
                int a = _buffer[p + 1 + k];
                int b = label[k];
                if (a is >= 'A' and <= 'Z') a += 32;
                if (b is >= 'A' and <= 'Z') b += 32;
                if (a != b) return false;
            }
            p += 1 + length;
            i++;
        }
        return false;
    }
}
