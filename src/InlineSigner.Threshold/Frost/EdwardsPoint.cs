namespace InlineSigner.Threshold.Frost;

/// <summary>
/// A point of edwards25519 (−x² + y² = 1 + d·x²·y²) in extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z,
/// x·y = T/Z, with variable-time arithmetic for PUBLIC values only: decoding, addition, doubling and Straus
/// multi-scalar multiplication with width-5 NAFs. A FROST signing package is such a sum, Σ D_j + ρ_j·E_j, over
/// commitments and binding factors that every party sees; libsodium (constant-time, compressed points, no
/// multi-scalar multiplication) stays in charge of everything that touches a secret and of the prime-order subgroup
/// checks (<see cref="Ed25519Group.IsValidElement"/>).
/// </summary>
internal readonly struct EdwardsPoint
{
    private readonly FieldElement _x, _y, _z, _t;

    private EdwardsPoint(FieldElement x, FieldElement y, FieldElement z, FieldElement t)
    {
        _x = x; _y = y; _z = z; _t = t;
    }

    /// <summary>d = −121665/121666 and 2d.</summary>
    private static readonly FieldElement D = FieldElement.Negate(FieldElement.Mul(FieldElement.FromInt(121665), FieldElement.Invert(FieldElement.FromInt(121666))));
    private static readonly FieldElement D2 = FieldElement.Add(D, D);

    /// <summary>√−1 = 2^((p − 1)/4).</summary>
    private static readonly FieldElement SqrtMinusOne = SqrtM1();

    private static FieldElement SqrtM1()
    {
        // (p − 1)/4 = 2^253 − 5: 2^(2^253 − 5) = (2^(2^252 − 3))^2 · 2 … computed from the exponent helper:
        // Pow22523(a) = a^(2^252 − 3), so a^(2^253 − 5) = a^(2·(2^252 − 3)) · a.
        var two = FieldElement.FromInt(2);
        return FieldElement.Mul(FieldElement.Square(FieldElement.Pow22523(two)), two);
    }

    internal static FieldElement CurveD => D;
    internal static FieldElement SqrtOfMinusOne => SqrtMinusOne;

    public static EdwardsPoint Identity => new(FieldElement.Zero, FieldElement.One, FieldElement.One, FieldElement.Zero);

    /// <summary>
    /// RFC 8032 §5.1.3 decoding; false for a non-canonical y, a y with no x on the curve, or "−0". Says nothing about
    /// the subgroup (check that separately where it matters).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> encoded, out EdwardsPoint point)
    {
        point = default;
        if (encoded.Length != 32) return false;
        bool xOdd = (encoded[31] & 0x80) != 0;
        Span<byte> yBytes = stackalloc byte[32];
        encoded.CopyTo(yBytes);
        yBytes[31] &= 0x7F;
        var y = FieldElement.FromBytes(yBytes);
        Span<byte> canonical = stackalloc byte[32];
        y.WriteBytes(canonical);
        if (!canonical.SequenceEqual(yBytes)) return false; // y ≥ p

        var yy = FieldElement.Square(y);
        var u = FieldElement.Sub(yy, FieldElement.One);
        var v = FieldElement.Add(FieldElement.Mul(D, yy), FieldElement.One);
        // x = u·v³·(u·v⁷)^((p − 5)/8)
        var v3 = FieldElement.Mul(FieldElement.Square(v), v);
        var uv7 = FieldElement.Mul(u, FieldElement.Mul(FieldElement.Square(v3), v));
        var x = FieldElement.Mul(FieldElement.Mul(u, v3), FieldElement.Pow22523(uv7));
        var vxx = FieldElement.Mul(v, FieldElement.Square(x));
        if (!vxx.ValueEquals(u))
        {
            if (!vxx.ValueEquals(FieldElement.Negate(u))) return false;
            x = FieldElement.Mul(x, SqrtMinusOne);
        }
        if (x.IsZero && xOdd) return false;
        if (x.IsOdd != xOdd) x = FieldElement.Negate(x);
        point = new EdwardsPoint(x, y, FieldElement.One, FieldElement.Mul(x, y));
        return true;
    }

    public byte[] Encode()
    {
        var zInverse = FieldElement.Invert(_z);
        var x = FieldElement.Mul(_x, zInverse);
        var y = FieldElement.Mul(_y, zInverse);
        var bytes = y.ToBytes();
        if (x.IsOdd) bytes[31] |= 0x80;
        return bytes;
    }

    public bool IsIdentity => _x.IsZero && _y.ValueEquals(_z);

    /// <summary>A point prepared for being added: (Y + X, Y − X, 2Z, 2d·T).</summary>
    private readonly struct Cached(FieldElement yPlusX, FieldElement yMinusX, FieldElement z2, FieldElement t2d)
    {
        public readonly FieldElement YPlusX = yPlusX, YMinusX = yMinusX, Z2 = z2, T2d = t2d;
    }

    private Cached ToCached() => new(FieldElement.Add(_y, _x), FieldElement.Sub(_y, _x), FieldElement.Add(_z, _z), FieldElement.Mul(_t, D2));

    // Unified addition for a = −1 ("add-2008-hwcd-3"): 8 multiplications; subtraction adds the negation (−X, Y, Z, −T).
    private static EdwardsPoint Add(in EdwardsPoint p, in Cached q, bool subtract)
    {
        var a = FieldElement.Mul(FieldElement.Sub(p._y, p._x), subtract ? q.YPlusX : q.YMinusX);
        var b = FieldElement.Mul(FieldElement.Add(p._y, p._x), subtract ? q.YMinusX : q.YPlusX);
        var c = FieldElement.Mul(p._t, q.T2d);
        var d = FieldElement.Mul(p._z, q.Z2);
        var e = FieldElement.Sub(b, a);
        var h = FieldElement.Add(b, a);
        var f = subtract ? FieldElement.Add(d, c) : FieldElement.Sub(d, c);
        var g = subtract ? FieldElement.Sub(d, c) : FieldElement.Add(d, c);
        return new EdwardsPoint(FieldElement.Mul(e, f), FieldElement.Mul(g, h), FieldElement.Mul(f, g), FieldElement.Mul(e, h));
    }

    public static EdwardsPoint Add(in EdwardsPoint p, in EdwardsPoint q) => Add(p, q.ToCached(), subtract: false);

    public static EdwardsPoint Sub(in EdwardsPoint p, in EdwardsPoint q) => Add(p, q.ToCached(), subtract: true);

    // Doubling for a = −1 ("dbl-2008-hwcd" with the signs folded): 4 squarings, 4 multiplications; T is not read.
    public static EdwardsPoint Double(in EdwardsPoint p) => Double(p, withT: true);

    /// <summary>
    /// Doubling that computes T only when <paramref name="withT"/>: a doubling followed by another doubling never reads
    /// it, which saves one multiplication in eight along the shared chain of the multi-scalar multiplication.
    /// </summary>
    private static EdwardsPoint Double(in EdwardsPoint p, bool withT)
    {
        var a = FieldElement.Square(p._x);
        var b = FieldElement.Square(p._y);
        var zz = FieldElement.Square(p._z);
        var c = FieldElement.Add(zz, zz);
        var h = FieldElement.Add(a, b);
        var e = FieldElement.Sub(h, FieldElement.Square(FieldElement.Add(p._x, p._y)));
        var g = FieldElement.Sub(a, b);
        var f = FieldElement.Add(c, g);
        return new EdwardsPoint(FieldElement.Mul(e, f), FieldElement.Mul(g, h), FieldElement.Mul(f, g), withT ? FieldElement.Mul(e, h) : default);
    }

    /// <summary>
    /// Σ scalars[i]·points[i] in variable time (Straus' method: one shared chain of doublings, width-5 NAF digits,
    /// odd multiples P, 3P, …, 15P per point). Scalars are 32-byte little-endian integers; PUBLIC values only.
    /// </summary>
    public static EdwardsPoint MultiScalarMulVartime(IReadOnlyList<byte[]> scalars, IReadOnlyList<EdwardsPoint> points)
    {
        if (scalars.Count != points.Count) throw new ArgumentException("one scalar per point");
        int count = points.Count;
        var nafs = new sbyte[count][];
        var tables = new Cached[count][];
        int top = -1;
        for (int i = 0; i < count; i++)
        {
            nafs[i] = Naf5(scalars[i]);
            int last = Array.FindLastIndex(nafs[i], digit => digit != 0);
            top = Math.Max(top, last);
            var table = new Cached[8];
            var p = points[i];
            var twice = Double(p).ToCached();
            table[0] = p.ToCached();
            for (int k = 1; k < 8; k++)
            {
                p = Add(p, twice, subtract: false);
                table[k] = p.ToCached();
            }
            tables[i] = table;
        }
        var sum = Identity;
        for (int bit = top; bit >= 0; bit--)
        {
            bool adds = false;
            for (int i = 0; i < count && !adds; i++) adds = nafs[i][bit] != 0;
            // The last doubling always computes T, so the result is a complete point.
            sum = Double(sum, withT: adds || bit == 0);
            for (int i = 0; i < count; i++)
            {
                int digit = nafs[i][bit];
                if (digit > 0) sum = Add(sum, tables[i][digit >> 1], subtract: false);
                else if (digit < 0) sum = Add(sum, tables[i][-digit >> 1], subtract: true);
            }
        }
        return sum;
    }

    /// <summary>Width-5 non-adjacent form of a 256-bit little-endian integer: odd digits in [−15, 15], least significant first.</summary>
    internal static sbyte[] Naf5(ReadOnlySpan<byte> scalar)
    {
        if (scalar.Length != 32) throw new ArgumentException("a scalar is 32 bytes");
        // Five words so that adding back a negative digit's magnitude near 2^256 has room to carry.
        Span<ulong> k = stackalloc ulong[5];
        for (int w = 0; w < 4; w++) k[w] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(scalar[(8 * w)..]);
        k[4] = 0;
        var naf = new sbyte[258];
        int position = 0;
        while ((k[0] | k[1] | k[2] | k[3] | k[4]) != 0)
        {
            if ((k[0] & 1) == 1)
            {
                int digit = (int)(k[0] & 31);
                if (digit >= 16) digit -= 32;
                naf[position] = (sbyte)digit;
                // k −= digit (digit odd, |digit| < 16), which clears the low five bits.
                if (digit > 0) k[0] -= (ulong)digit; // no borrow: the low bits are at least digit
                else
                {
                    ulong magnitude = (ulong)(-digit);
                    k[0] += magnitude;
                    if (k[0] < magnitude)
                        for (int w = 1; w < 5; w++)
                            if (++k[w] != 0) break;
                }
            }
            // k >>= 1
            for (int w = 0; w < 4; w++) k[w] = (k[w] >> 1) | (k[w + 1] << 63);
            k[4] >>= 1;
            position++;
        }
        return naf;
    }
}
