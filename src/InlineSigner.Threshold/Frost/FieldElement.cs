using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace InlineSigner.Threshold.Frost;

/// <summary>
/// An element of GF(2^255 − 19) in five 51-bit limbs, for the variable-time point arithmetic on PUBLIC values
/// (<see cref="EdwardsPoint"/>): commitments, binding factors, group commitments. libsodium has no multi-scalar
/// multiplication and works on compressed points, so every addition there costs two decompressions and a compression;
/// doing the public sums here in extended coordinates is what makes a FROST signing package cheap.
/// Never use this type for secrets: nothing here is constant-time.
/// </summary>
/// <remarks>
/// Limbs of a "reduced" element are below 2^52; <see cref="Add"/> of two reduced elements gives limbs below 2^53, which
/// <see cref="Mul"/> and <see cref="Square"/> accept (they need limbs below 2^54 so that no 128-bit column overflows).
/// </remarks>
internal readonly struct FieldElement
{
    private const ulong Mask = (1UL << 51) - 1;

    private readonly ulong _l0, _l1, _l2, _l3, _l4;

    private FieldElement(ulong l0, ulong l1, ulong l2, ulong l3, ulong l4)
    {
        _l0 = l0; _l1 = l1; _l2 = l2; _l3 = l3; _l4 = l4;
    }

    public static FieldElement Zero => default;
    public static FieldElement One => new(1, 0, 0, 0, 0);

    public static FieldElement FromInt(ulong value) => value <= Mask ? new(value, 0, 0, 0, 0) : throw new ArgumentOutOfRangeException(nameof(value));

    /// <summary>The 255-bit little-endian integer in <paramref name="bytes"/> (bit 255 ignored), reduced lazily.</summary>
    public static FieldElement FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 32) throw new ArgumentException("a field element is 32 bytes");
        ulong w0 = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        ulong w1 = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        ulong w2 = BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]);
        ulong w3 = BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]);
        return new(
            w0 & Mask,
            ((w0 >> 51) | (w1 << 13)) & Mask,
            ((w1 >> 38) | (w2 << 26)) & Mask,
            ((w2 >> 25) | (w3 << 39)) & Mask,
            (w3 >> 12) & Mask);
    }

    /// <summary>The canonical (fully reduced, below p) little-endian encoding; bit 255 is zero.</summary>
    public void WriteBytes(Span<byte> destination)
    {
        if (destination.Length < 32) throw new ArgumentException("a field element needs 32 bytes");
        var (l0, l1, l2, l3, l4) = Canonical();
        BinaryPrimitives.WriteUInt64LittleEndian(destination, l0 | (l1 << 51));
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (l1 >> 13) | (l2 << 38));
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], (l2 >> 26) | (l3 << 25));
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], (l3 >> 39) | (l4 << 12));
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[32];
        WriteBytes(bytes);
        return bytes;
    }

    /// <summary>Limbs of the unique representative in [0, p).</summary>
    private (ulong, ulong, ulong, ulong, ulong) Canonical()
    {
        // Two weak reductions leave every limb below 2^51 (the first can leave a small excess in limb 0); then subtract
        // p once if the value is at least p: adding 19 carries out of bit 255 exactly then.
        var w = Carry(_l0, _l1, _l2, _l3, _l4);
        var r = Carry(w._l0, w._l1, w._l2, w._l3, w._l4);
        ulong l0 = r._l0, l1 = r._l1, l2 = r._l2, l3 = r._l3, l4 = r._l4;
        ulong q = (l0 + 19) >> 51;
        q = (l1 + q) >> 51;
        q = (l2 + q) >> 51;
        q = (l3 + q) >> 51;
        q = (l4 + q) >> 51;
        l0 += 19 * q;
        l1 += l0 >> 51; l0 &= Mask;
        l2 += l1 >> 51; l1 &= Mask;
        l3 += l2 >> 51; l2 &= Mask;
        l4 += l3 >> 51; l3 &= Mask;
        l4 &= Mask; // drops the 2^255 that stands for the p subtracted
        return (l0, l1, l2, l3, l4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FieldElement Carry(ulong l0, ulong l1, ulong l2, ulong l3, ulong l4)
    {
        l1 += l0 >> 51; l0 &= Mask;
        l2 += l1 >> 51; l1 &= Mask;
        l3 += l2 >> 51; l2 &= Mask;
        l4 += l3 >> 51; l3 &= Mask;
        l0 += 19 * (l4 >> 51); l4 &= Mask;
        return new(l0, l1, l2, l3, l4);
    }

    public bool IsZero
    {
        get
        {
            var (l0, l1, l2, l3, l4) = Canonical();
            return (l0 | l1 | l2 | l3 | l4) == 0;
        }
    }

    /// <summary>The low bit of the canonical value ("negative" in RFC 8032's sense).</summary>
    public bool IsOdd => (Canonical().Item1 & 1) == 1;

    public bool ValueEquals(FieldElement other) => Sub(this, other).IsZero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FieldElement Add(FieldElement a, FieldElement b) =>
        new(a._l0 + b._l0, a._l1 + b._l1, a._l2 + b._l2, a._l3 + b._l3, a._l4 + b._l4);

    /// <summary>a − b for <paramref name="b"/> with limbs below 2^54, computed as a + 16p − b, then carried.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FieldElement Sub(FieldElement a, FieldElement b) => Carry(
        a._l0 + 36028797018963664UL - b._l0, // 16·(2^51 − 19)
        a._l1 + 36028797018963952UL - b._l1, // 16·(2^51 − 1)
        a._l2 + 36028797018963952UL - b._l2,
        a._l3 + 36028797018963952UL - b._l3,
        a._l4 + 36028797018963952UL - b._l4);

    public static FieldElement Negate(FieldElement a) => Sub(Zero, a);

    /// <summary>
    /// A 128-bit column accumulator. Hand-written rather than <see cref="UInt128"/>, whose operators the JIT does not
    /// inline here (they cost a call each and tripled the time of a multiplication).
    /// </summary>
    private readonly struct Wide(ulong high, ulong low)
    {
        public readonly ulong High = high, Low = low;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Wide Product(ulong a, ulong b) => new(High64(a, b), a * b);

        /// <summary>this + a·b.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Wide Mac(ulong a, ulong b)
        {
            ulong low = a * b;
            ulong sum = Low + low;
            return new Wide(High + High64(a, b) + (sum < low ? 1UL : 0UL), sum);
        }

        /// <summary>
        /// The upper half of a·b. MULX's high-only form keeps both halves in registers (the low half is a plain
        /// multiplication); Math.BigMul's out parameter went through the stack for every product.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ulong High64(ulong a, ulong b) =>
            System.Runtime.Intrinsics.X86.Bmi2.X64.IsSupported ? System.Runtime.Intrinsics.X86.Bmi2.X64.MultiplyNoFlags(a, b) : Math.BigMul(a, b, out _);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Wide Plus(ulong value)
        {
            ulong sum = Low + value;
            return new Wide(High + (sum < value ? 1UL : 0UL), sum);
        }

        /// <summary>The bits above 51 (below 2^64 for every column here).</summary>
        public ulong Above51 => (High << 13) | (Low >> 51);
    }

    // Column by column, each carried into the next as soon as it is complete: one 128-bit accumulator is live at a
    // time instead of five, which keeps the JIT from spilling them (a third faster than computing all columns first).
    public static FieldElement Mul(FieldElement a, FieldElement b)
    {
        ulong a0 = a._l0, a1 = a._l1, a2 = a._l2, a3 = a._l3, a4 = a._l4;
        ulong b0 = b._l0, b1 = b._l1, b2 = b._l2, b3 = b._l3, b4 = b._l4;
        ulong b1_19 = b1 * 19, b2_19 = b2 * 19, b3_19 = b3 * 19, b4_19 = b4 * 19;
        var c = Wide.Product(a0, b0).Mac(a4, b1_19).Mac(a3, b2_19).Mac(a2, b3_19).Mac(a1, b4_19);
        ulong r0 = c.Low & Mask;
        c = Wide.Product(a1, b0).Mac(a0, b1).Mac(a4, b2_19).Mac(a3, b3_19).Mac(a2, b4_19).Plus(c.Above51);
        ulong r1 = c.Low & Mask;
        c = Wide.Product(a2, b0).Mac(a1, b1).Mac(a0, b2).Mac(a4, b3_19).Mac(a3, b4_19).Plus(c.Above51);
        ulong r2 = c.Low & Mask;
        c = Wide.Product(a3, b0).Mac(a2, b1).Mac(a1, b2).Mac(a0, b3).Mac(a4, b4_19).Plus(c.Above51);
        ulong r3 = c.Low & Mask;
        c = Wide.Product(a4, b0).Mac(a3, b1).Mac(a2, b2).Mac(a1, b3).Mac(a0, b4).Plus(c.Above51);
        return Finish(r0, r1, r2, r3, c);
    }

    public static FieldElement Square(FieldElement a)
    {
        ulong a0 = a._l0, a1 = a._l1, a2 = a._l2, a3 = a._l3, a4 = a._l4;
        ulong d0 = a0 * 2, d1 = a1 * 2, d2 = a2 * 2, d3 = a3 * 2, a3_19 = a3 * 19, a4_19 = a4 * 19;
        var c = Wide.Product(a0, a0).Mac(d1, a4_19).Mac(d2, a3_19);
        ulong r0 = c.Low & Mask;
        c = Wide.Product(d0, a1).Mac(d2, a4_19).Mac(a3, a3_19).Plus(c.Above51);
        ulong r1 = c.Low & Mask;
        c = Wide.Product(d0, a2).Mac(a1, a1).Mac(d3, a4_19).Plus(c.Above51);
        ulong r2 = c.Low & Mask;
        c = Wide.Product(d0, a3).Mac(d1, a2).Mac(a4, a4_19).Plus(c.Above51);
        ulong r3 = c.Low & Mask;
        c = Wide.Product(d0, a4).Mac(d1, a3).Mac(a2, a2).Plus(c.Above51);
        return Finish(r0, r1, r2, r3, c);
    }

    /// <summary>
    /// The last column's carry goes back to limb 0 times 19 (2^255 ≡ 19). Inputs below 2^54 keep every column below
    /// 2^115 and that carry times 19 inside 64 bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static FieldElement Finish(ulong r0, ulong r1, ulong r2, ulong r3, Wide c4)
    {
        r0 += c4.Above51 * 19;
        r1 += r0 >> 51;
        r0 &= Mask;
        return new(r0, r1, r2, r3, c4.Low & Mask);
    }

    /// <summary>a^(2^k).</summary>
    public static FieldElement SquareTimes(FieldElement a, int k)
    {
        for (int i = 0; i < k; i++) a = Square(a);
        return a;
    }

    /// <summary>(a^(2^250 − 1), a^11): the common start of inversion and of the square-root exponent.</summary>
    private static (FieldElement T250, FieldElement A11) Pow2250Minus1(FieldElement a)
    {
        var a2 = Square(a);
        var a9 = Mul(SquareTimes(a2, 2), a);
        var a11 = Mul(a9, a2);
        var t5 = Mul(Square(a11), a9);              // 2^5 − 1
        var t10 = Mul(SquareTimes(t5, 5), t5);      // 2^10 − 1
        var t20 = Mul(SquareTimes(t10, 10), t10);   // 2^20 − 1
        var t40 = Mul(SquareTimes(t20, 20), t20);   // 2^40 − 1
        var t50 = Mul(SquareTimes(t40, 10), t10);   // 2^50 − 1
        var t100 = Mul(SquareTimes(t50, 50), t50);  // 2^100 − 1
        var t200 = Mul(SquareTimes(t100, 100), t100); // 2^200 − 1
        var t250 = Mul(SquareTimes(t200, 50), t50); // 2^250 − 1
        return (t250, a11);
    }

    /// <summary>a^(p − 2) = 1/a (0 for 0).</summary>
    public static FieldElement Invert(FieldElement a)
    {
        var (t250, a11) = Pow2250Minus1(a);
        return Mul(SquareTimes(t250, 5), a11); // 2^255 − 32 + 11 = p − 2
    }

    /// <summary>a^((p − 5)/8) = a^(2^252 − 3), the exponent of RFC 8032's square root.</summary>
    public static FieldElement Pow22523(FieldElement a)
    {
        var (t250, _) = Pow2250Minus1(a);
        return Mul(SquareTimes(t250, 2), a);
    }
}
