using System.Numerics;
using InlineSigner.Threshold.Frost;

namespace InlineSigner.Threshold.Tests;

/// <summary>
/// The variable-time field and point arithmetic FROST uses on public values, checked against two independent oracles:
/// System.Numerics.BigInteger modulo p for the field, and libsodium's constant-time point operations for the group.
/// </summary>
public sealed class EdwardsArithmeticTests
{
    private static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
    private static readonly BigInteger L = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493");

    private static BigInteger Value(ReadOnlySpan<byte> littleEndian) => new(littleEndian, isUnsigned: true, isBigEndian: false);

    private static BigInteger Mod(BigInteger x) => ((x % P) + P) % P;

    private static byte[] Bytes(BigInteger x)
    {
        var bytes = new byte[32];
        Assert.True(x.TryWriteBytes(bytes, out _, isUnsigned: true, isBigEndian: false));
        return bytes;
    }

    /// <summary>Random 255-bit values plus the edges: 0, 1, p − 1, p, p + 1 and 2^255 − 1 (the last three not canonical).</summary>
    public static IEnumerable<byte[]> FieldInputs(int seed)
    {
        var random = new Random(seed);
        foreach (var edge in new[] { BigInteger.Zero, BigInteger.One, P - 1, P, P + 1, BigInteger.Pow(2, 255) - 1 }) yield return Bytes(edge);
        for (int i = 0; i < 200; i++)
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            bytes[31] &= 0x7F;
            yield return bytes;
        }
    }

    [Fact]
    public void Field_arithmetic_matches_big_integers_modulo_p()
    {
        var inputs = FieldInputs(1).ToList();
        var others = FieldInputs(2).ToList();
        for (int i = 0; i < inputs.Count; i++)
        {
            var a = FieldElement.FromBytes(inputs[i]);
            var b = FieldElement.FromBytes(others[i]);
            BigInteger x = Value(inputs[i]), y = Value(others[i]);
            Assert.Equal(Bytes(Mod(x)), a.ToBytes());
            Assert.Equal(Bytes(Mod(x * y)), FieldElement.Mul(a, b).ToBytes());
            Assert.Equal(Bytes(Mod(x * x)), FieldElement.Square(a).ToBytes());
            Assert.Equal(Bytes(Mod(x + y)), FieldElement.Add(a, b).ToBytes());
            Assert.Equal(Bytes(Mod(x - y)), FieldElement.Sub(a, b).ToBytes());
            Assert.Equal(Bytes(Mod(-x)), FieldElement.Negate(a).ToBytes());
            Assert.Equal(Bytes(BigInteger.ModPow(Mod(x), P - 2, P)), FieldElement.Invert(a).ToBytes());
            Assert.Equal(Bytes(BigInteger.ModPow(Mod(x), (P - 5) / 8, P)), FieldElement.Pow22523(a).ToBytes());
            Assert.Equal(Mod(x).IsZero, a.IsZero);
            Assert.Equal(!Mod(x).IsEven, a.IsOdd);
        }
    }

    [Fact]
    public void Long_chains_of_lazy_additions_and_products_stay_exact()
    {
        // Mul takes the sum of two reduced elements unreduced; a long chain catches a bound that was wrong.
        var random = new Random(3);
        var bytes = new byte[32];
        random.NextBytes(bytes);
        bytes[31] &= 0x7F;
        var a = FieldElement.FromBytes(bytes);
        BigInteger x = Mod(Value(bytes));
        for (int i = 0; i < 2000; i++)
        {
            var sum = FieldElement.Add(a, a);
            a = FieldElement.Mul(sum, FieldElement.Add(a, FieldElement.One));
            x = Mod((x + x) * (x + 1));
            a = FieldElement.Sub(a, FieldElement.Square(FieldElement.Add(a, a)));
            x = Mod(x - (x + x) * (x + x));
        }
        Assert.Equal(Bytes(x), a.ToBytes());
    }

    [Fact]
    public void Curve_constants_are_those_of_rfc_8032()
    {
        // d = −121665/121666 and √−1 = 2^((p−1)/4), little-endian.
        Assert.Equal("a3785913ca4deb75abd841414d0a700098e879777940c78c73fe6f2bee6c0352", Convert.ToHexString(EdwardsPoint.CurveD.ToBytes()).ToLowerInvariant());
        var i = EdwardsPoint.SqrtOfMinusOne;
        Assert.Equal(Bytes(P - 1), FieldElement.Square(i).ToBytes());
        Assert.Equal(Bytes(BigInteger.ModPow(2, (P - 1) / 4, P)), i.ToBytes());
    }

    /// <summary>RFC 8032 §5.1.3 by big integers: the point's x, or null when the encoding is not a point.</summary>
    private static BigInteger? ReferenceDecodeX(byte[] encoded)
    {
        var yBytes = encoded.ToArray();
        bool sign = (yBytes[31] & 0x80) != 0;
        yBytes[31] &= 0x7F;
        var y = Value(yBytes);
        if (y >= P) return null;
        var d = Mod(-121665 * BigInteger.ModPow(121666, P - 2, P));
        var xx = Mod((y * y - 1) * BigInteger.ModPow(Mod(d * y * y + 1), P - 2, P));
        if (xx.IsZero) return sign ? null : BigInteger.Zero;
        if (BigInteger.ModPow(xx, (P - 1) / 2, P) != 1) return null;
        var x = BigInteger.ModPow(xx, (P + 3) / 8, P);
        if (Mod(x * x - xx) != 0) x = Mod(x * BigInteger.ModPow(2, (P - 1) / 4, P));
        if (x.IsEven == sign) x = P - x;
        return x;
    }

    [Fact]
    public void Decoding_accepts_exactly_the_points_of_rfc_8032_and_reencodes_them_unchanged()
    {
        var random = new Random(4);
        var cases = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            cases.Add(bytes);
        }
        cases.Add(Bytes(P));                        // y = p: not canonical
        cases.Add(Bytes(P + 1));                    // y = p + 1 ≡ 1: not canonical
        cases.Add(Bytes(BigInteger.One));           // the identity
        cases.Add(Bytes(BigInteger.One | (BigInteger.One << 255))); // "−0": x = 0 with the sign bit set
        cases.Add(Ed25519Group.BaseMul(Ed25519Group.ScalarFromInt(1)));
        int points = 0;
        foreach (var encoded in cases)
        {
            var expected = ReferenceDecodeX(encoded);
            bool decoded = EdwardsPoint.TryDecode(encoded, out var point);
            Assert.True(expected.HasValue == decoded, $"{Convert.ToHexString(encoded)}: reference says {(expected.HasValue ? "point" : "not a point")}");
            if (!decoded) continue;
            points++;
            Assert.Equal(encoded, point.Encode());
        }
        Assert.True(points > 100, $"only {points} of the random encodings were points; the test would not cover decoding");
    }

    private static byte[] RandomPoint() => Ed25519Group.BaseMul(Ed25519Group.RandomScalar());

    private static EdwardsPoint Decode(byte[] encoded)
    {
        Assert.True(EdwardsPoint.TryDecode(encoded, out var point));
        return point;
    }

    [Fact]
    public void Addition_subtraction_and_doubling_agree_with_libsodium()
    {
        for (int i = 0; i < 50; i++)
        {
            byte[] p = RandomPoint(), q = RandomPoint();
            Assert.Equal(Ed25519Group.AddPoints(p, q), EdwardsPoint.Add(Decode(p), Decode(q)).Encode());
            Assert.Equal(Ed25519Group.SubPoints(p, q), EdwardsPoint.Sub(Decode(p), Decode(q)).Encode());
            Assert.Equal(Ed25519Group.AddPoints(p, p), EdwardsPoint.Double(Decode(p)).Encode());
            Assert.Equal(p, EdwardsPoint.Add(Decode(p), EdwardsPoint.Identity).Encode());
        }
        var r = RandomPoint();
        Assert.True(EdwardsPoint.Sub(Decode(r), Decode(r)).IsIdentity);
        Assert.False(Decode(r).IsIdentity);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Multi_scalar_multiplication_equals_the_sum_of_libsodium_products(int count)
    {
        for (int round = 0; round < 10; round++)
        {
            var scalars = Enumerable.Range(0, count).Select(k => round switch
            {
                0 => Bytes(L - 1),                                    // the largest canonical scalar
                1 => Ed25519Group.ScalarFromInt(k),                  // zero and small ones
                2 => Bytes(BigInteger.Pow(2, 252) + k),              // long runs of zero digits
                _ => Ed25519Group.RandomScalar(),
            }).ToList();
            var points = Enumerable.Range(0, count).Select(_ => RandomPoint()).ToList();
            byte[]? expected = null;
            for (int k = 0; k < count; k++)
            {
                var term = Ed25519Group.MulPoint(scalars[k], points[k]);
                expected = expected is null ? term : Ed25519Group.AddPoints(expected, term);
            }
            var actual = EdwardsPoint.MultiScalarMulVartime(scalars, points.Select(Decode).ToList());
            if (Ed25519Group.IsIdentity(expected!)) Assert.True(actual.IsIdentity);
            else Assert.Equal(expected, actual.Encode());
        }
    }

    [Fact]
    public void Width_five_naf_digits_rebuild_the_scalar_and_keep_their_spacing()
    {
        var random = new Random(5);
        var scalars = new List<byte[]> { new byte[32], Bytes(BigInteger.One), Bytes(L - 1), Bytes(BigInteger.Pow(2, 256) - 1), Bytes(BigInteger.Pow(2, 255) + 31) };
        for (int i = 0; i < 100; i++)
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            scalars.Add(bytes);
        }
        foreach (var scalar in scalars)
        {
            var naf = EdwardsPoint.Naf5(scalar);
            BigInteger rebuilt = BigInteger.Zero;
            int lastNonZero = -10;
            for (int i = 0; i < naf.Length; i++)
            {
                if (naf[i] == 0) continue;
                Assert.True(naf[i] % 2 != 0 && Math.Abs((int)naf[i]) <= 15, $"digit {naf[i]} at {i}");
                Assert.True(i - lastNonZero >= 5, $"non-zero digits at {lastNonZero} and {i}");
                lastNonZero = i;
                rebuilt += naf[i] * BigInteger.Pow(2, i);
            }
            Assert.Equal(Value(scalar), rebuilt);
        }
    }

    [Fact]
    public void The_group_commitment_equals_the_one_computed_with_libsodium_alone()
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(4, 7);
        for (int round = 0; round < 10; round++)
        {
            var signers = shares.OrderBy(_ => Guid.NewGuid()).Take(4 + round % 3).ToList();
            var nonces = signers.Select(FrostEd25519.Commit).ToList();
            var commitments = nonces.Select(n => n.Commitment).OrderBy(c => c.Identifier).ToList();
            var message = BitConverter.GetBytes(round);
            var package = FrostEd25519.Prepare(message, commitments, publicKey);
            byte[]? expected = null;
            foreach (var c in commitments)
            {
                var term = Ed25519Group.AddPoints(c.Hiding, Ed25519Group.MulPoint(package.BindingFactors[c.Identifier], c.Binding));
                expected = expected is null ? term : Ed25519Group.AddPoints(expected, term);
            }
            Assert.Equal(expected, package.GroupCommitment);
            // A participant skips checking and decoding its own commitment; the result must not change.
            foreach (var nonce in nonces) Assert.Equal(expected, FrostEd25519.Prepare(message, commitments, publicKey, nonce).GroupCommitment);
            foreach (var nonce in nonces) nonce.Dispose();
        }
    }
}
