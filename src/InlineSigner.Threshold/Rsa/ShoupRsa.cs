using System.Numerics;
using System.Security.Cryptography;
using InlineSigner.Threshold.OpenSsl;

namespace InlineSigner.Threshold.Rsa;

/// <summary>
/// Shoup's threshold RSA (Practical Threshold Signatures, EUROCRYPT 2000), the scheme NIC Chile's tcrsa implements.
/// The dealer: safe primes p = 2p'+1, q = 2q'+1, m = p'q', d = e⁻¹ mod m, shares s_i = f(i) of a random polynomial of
/// degree t−1 over Z_m with f(0) = d, verification base v (a random square) and v_i = v^{s_i}. The dealer keeps
/// nothing: primes, d and the polynomial are zeroed once the shares exist.
/// </summary>
public static class ThresholdRsaDealer
{
    public const int PublicExponent = 65537;

    /// <summary>Generates a fresh key (safe primes searched in parallel) and deals it into <paramref name="parties"/> shares.</summary>
    public static (ThresholdRsaPublicKey PublicKey, IReadOnlyList<RsaKeyShare> Shares) Deal(int modulusBits, int threshold, int parties,
        IProgress<string>? progress, CancellationToken cancellationToken)
    {
        if (modulusBits is < 512 or > 8192 || modulusBits % 2 != 0) throw new ArgumentException($"modulus size {modulusBits} must be an even number of bits, 512..8192");
        if (parties >= PublicExponent) throw new ArgumentException("e must exceed the number of parties");
        progress?.Report($"searching two {modulusBits / 2}-bit safe primes");
        var pTask = Task.Run(() => BigNum.GeneratePrime(modulusBits / 2, safe: true, cancellationToken), cancellationToken);
        var qTask = Task.Run(() => BigNum.GeneratePrime(modulusBits / 2, safe: true, cancellationToken), cancellationToken);
        using var p = pTask.GetAwaiter().GetResult();
        using var q = qTask.GetAwaiter().GetResult();
        if (p.CompareTo(q) == 0) throw new CryptographicException("prime search returned the same prime twice");
        progress?.Report("dealing shares");
        return DealFromPrimes(p, q, threshold, parties);
    }

    /// <summary>Deals a key from given safe primes (test fixtures, migration of an existing key's primes).</summary>
    public static (ThresholdRsaPublicKey PublicKey, IReadOnlyList<RsaKeyShare> Shares) DealFromPrimes(BigNum p, BigNum q, int threshold, int parties)
    {
        if (threshold < 1 || threshold > parties) throw new ArgumentException($"threshold {threshold} must be 1..{parties}");
        using var ctx = new BigNumContext();
        using var n = BigNum.Mul(p, q, ctx);
        using var pPrime = BigNum.ShiftRight1(p);
        using var qPrime = BigNum.ShiftRight1(q);
        using var m = BigNum.Mul(pPrime, qPrime, ctx);
        using var e = BigNum.FromWord(PublicExponent);
        using var d = BigNum.ModInverse(e, m, ctx);

        // f(X) = d + a_1 X + … + a_{t−1} X^{t−1} over Z_m.
        var coefficients = new List<BigNum> { d };
        try
        {
            for (int k = 1; k < threshold; k++) coefficients.Add(BigNum.RandomBelow(m));
            var shares = new List<RsaKeyShare>(parties);
            var secrets = new List<BigNum>(parties);
            try
            {
                for (int i = 1; i <= parties; i++)
                {
                    var s = EvaluatePolynomial(coefficients, i, m, ctx);
                    secrets.Add(s);
                    var bytes = s.ToBytes();
                    shares.Add(new RsaKeyShare(i, bytes));
                    CryptographicOperations.ZeroMemory(bytes);
                }

                // v: a random square mod N, generator of the squares with overwhelming probability.
                using var r = BigNum.RandomBelow(n);
                using var v = BigNum.ModMul(r, r, n, ctx);
                int length = n.ByteLength;
                var verificationKeys = secrets.Select(s => { using var vi = BigNum.ModExpSecret(v, s, n, ctx); return vi.ToBytes(length); }).ToList();
                var publicKey = new ThresholdRsaPublicKey(n.ToBytes(length), e.ToBytes(), threshold, parties, v.ToBytes(length), verificationKeys);
                return (publicKey, shares);
            }
            finally
            {
                foreach (var s in secrets) s.Dispose();
            }
        }
        finally
        {
            // d is disposed by its using; the random coefficients here (BN_clear_free zeroes them).
            for (int k = 1; k < coefficients.Count; k++) coefficients[k].Dispose();
        }
    }

    private static BigNum EvaluatePolynomial(List<BigNum> coefficients, int x, BigNum m, BigNumContext ctx)
    {
        using var point = BigNum.FromWord((ulong)x);
        var result = BigNum.FromWord(0);
        // Horner: ((a_{t−1} x + a_{t−2}) x + …) x + a_0
        for (int k = coefficients.Count - 1; k >= 0; k--)
        {
            using var times = BigNum.ModMul(result, point, m, ctx);
            result.Dispose();
            result = BigNum.ModAdd(times, coefficients[k], m, ctx);
        }
        return result;
    }
}

/// <summary>
/// A share holder's side: x_i = x^{2Δ s_i} mod N for the encoded message x, and on request Shoup's proof of
/// correctness (two more full-width exponentiations, so only when the coordinator asks — after a failed combine).
/// </summary>
public sealed class RsaShareHolder : IDisposable
{
    private const int ProofSecurityBits = 128; // L1 in Shoup's paper
    private readonly ThresholdRsaPublicKey _publicKey;
    private readonly BigNum _n;
    private readonly BigNum _secret;
    private readonly BigNum _exponent; // 2Δ s_i, computed once

    public RsaShareHolder(ThresholdRsaPublicKey publicKey, RsaKeyShare share)
    {
        if (share.Index > publicKey.Parties) throw new ArgumentException($"share #{share.Index} does not belong to a {publicKey.Parties}-party key");
        _publicKey = publicKey;
        Index = share.Index;
        _n = BigNum.FromBytes(publicKey.Modulus);
        _secret = BigNum.FromBytes(share.Secret);
        using var ctx = new BigNumContext();
        using var twoDelta = BigNum.FromBigInteger(2 * publicKey.Delta);
        _exponent = BigNum.Mul(twoDelta, _secret, ctx);
    }

    public int Index { get; }

    /// <summary>The signature share for the PKCS#1-encoded message <paramref name="encodedMessage"/> (|N| bytes).</summary>
    public RsaSignatureShare Sign(ReadOnlySpan<byte> encodedMessage, bool withProof)
    {
        using var ctx = new BigNumContext();
        using var x = ThresholdRsaMath.MessageToInteger(encodedMessage, _n, ctx);
        using var xi = BigNum.ModExpSecret(x, _exponent, _n, ctx);
        var value = xi.ToBytes(_publicKey.ModulusBytes);
        return new RsaSignatureShare(Index, value, withProof ? Prove(x, xi, ctx) : null);
    }

    private RsaShareProof Prove(BigNum x, BigNum xi, BigNumContext ctx)
    {
        int length = _publicKey.ModulusBytes;
        using var v = BigNum.FromBytes(_publicKey.VerificationBase);
        using var fourDelta = BigNum.FromBigInteger(4 * _publicKey.Delta);
        using var xTilde = BigNum.ModExp(x, fourDelta, _n, ctx);
        using var xiSquared = BigNum.ModMul(xi, xi, _n, ctx);
        // r uniform below 2^(|N| + 2·L1): z = s_i·c + r then reveals nothing about s_i statistically.
        var rBytes = RandomNumberGenerator.GetBytes((_n.BitLength + 2 * ProofSecurityBits + 7) / 8);
        using var r = BigNum.FromBytes(rBytes);
        CryptographicOperations.ZeroMemory(rBytes);
        using var vPrime = BigNum.ModExpSecret(v, r, _n, ctx);
        using var xPrime = BigNum.ModExpSecret(xTilde, r, _n, ctx);
        var c = ThresholdRsaMath.Challenge(length, v, xTilde, _publicKey.VerificationKeys[Index - 1], xiSquared, vPrime, xPrime);
        using var cNum = BigNum.FromBytes(c);
        using var sc = BigNum.Mul(_secret, cNum, ctx);
        using var z = BigNum.Add(sc, r);
        return new RsaShareProof(c, z.ToBytes());
    }

    public void Dispose()
    {
        _n.Dispose();
        _secret.Dispose();
        _exponent.Dispose();
    }

    public override string ToString() => $"RSA share holder #{Index} (secret not shown)";
}

/// <summary>The coordinator's side: combine t shares into an ordinary RSA signature, finding bad shares when needed.</summary>
public static class ThresholdRsaCombiner
{
    /// <summary>
    /// Combines shares into the signature on <paramref name="encodedMessage"/>. Optimistic: the first t shares are
    /// combined and the result checked with y^e = x (cheap). Only if that fails are the shares' proofs checked; bad
    /// shares are dropped and their holders named in the exception if too few good ones remain.
    /// </summary>
    public static RsaCombineResult Combine(ThresholdRsaPublicKey publicKey, ReadOnlySpan<byte> encodedMessage, IReadOnlyList<RsaSignatureShare> shares)
    {
        var distinct = shares.GroupBy(s => s.Index).Select(g => g.First()).Where(s => s.Index >= 1 && s.Index <= publicKey.Parties).ToList();
        if (distinct.Count < publicKey.Threshold)
            throw new ThresholdSigningException($"{distinct.Count} distinct shares, {publicKey.Threshold} needed", []);
        var first = distinct.Take(publicKey.Threshold).ToList();
        if (TryCombine(publicKey, encodedMessage, first, out var signature)) return new RsaCombineResult(signature, []);

        // Pessimistic path: keep only shares whose proofs hold.
        var bad = new List<int>();
        var good = new List<RsaSignatureShare>();
        foreach (var share in distinct)
        {
            if (share.Proof is null) continue;
            if (VerifyShare(publicKey, encodedMessage, share)) good.Add(share);
            else bad.Add(share.Index);
        }
        var unproven = distinct.Where(s => s.Proof is null).Select(s => s.Index).ToList();
        if (good.Count >= publicKey.Threshold && TryCombine(publicKey, encodedMessage, good.Take(publicKey.Threshold).ToList(), out signature))
            return new RsaCombineResult(signature, bad);
        throw new ThresholdSigningException(
            $"combined signature does not verify; {good.Count} shares proven good, bad share holders: [{string.Join(", ", bad)}]" +
            (unproven.Count > 0 ? $", shares without proofs: [{string.Join(", ", unproven)}] (ask for proofs)" : ""), bad);
    }

    /// <summary>Checks Shoup's proof of one share.</summary>
    public static bool VerifyShare(ThresholdRsaPublicKey publicKey, ReadOnlySpan<byte> encodedMessage, RsaSignatureShare share)
    {
        if (share.Proof is null || share.Index < 1 || share.Index > publicKey.Parties) return false;
        using var ctx = new BigNumContext();
        using var n = BigNum.FromBytes(publicKey.Modulus);
        using var x = ThresholdRsaMath.MessageToInteger(encodedMessage, n, ctx);
        using var xi = BigNum.FromBytes(share.Value);
        if (xi.IsZero || xi.CompareTo(n) >= 0) return false;
        using var v = BigNum.FromBytes(publicKey.VerificationBase);
        using var vi = BigNum.FromBytes(publicKey.VerificationKeys[share.Index - 1]);
        using var fourDelta = BigNum.FromBigInteger(4 * publicKey.Delta);
        using var xTilde = BigNum.ModExp(x, fourDelta, n, ctx);
        using var xiSquared = BigNum.ModMul(xi, xi, n, ctx);
        using var c = BigNum.FromBytes(share.Proof.C);
        using var z = BigNum.FromBytes(share.Proof.Z);
        try
        {
            // v' = v^z · v_i^{−c},  x' = x̃^z · (x_i²)^{−c}
            using var vz = BigNum.ModExp(v, z, n, ctx);
            using var vic = BigNum.ModExp(vi, c, n, ctx);
            using var vicInv = BigNum.ModInverse(vic, n, ctx);
            using var vPrime = BigNum.ModMul(vz, vicInv, n, ctx);
            using var xz = BigNum.ModExp(xTilde, z, n, ctx);
            using var xic = BigNum.ModExp(xiSquared, c, n, ctx);
            using var xicInv = BigNum.ModInverse(xic, n, ctx);
            using var xPrime = BigNum.ModMul(xz, xicInv, n, ctx);
            var expected = ThresholdRsaMath.Challenge(publicKey.ModulusBytes, v, xTilde, publicKey.VerificationKeys[share.Index - 1], xiSquared, vPrime, xPrime);
            return CryptographicOperations.FixedTimeEquals(expected, share.Proof.C);
        }
        catch (CryptographicException)
        {
            return false; // a value without inverse mod N cannot come from an honest holder
        }
    }

    private static bool TryCombine(ThresholdRsaPublicKey publicKey, ReadOnlySpan<byte> encodedMessage, IReadOnlyList<RsaSignatureShare> shares, out byte[] signature)
    {
        signature = CombineOptimistic(publicKey, [encodedMessage.ToArray()], [shares])[0] ?? [];
        return signature.Length > 0;
    }

    /// <summary>
    /// The optimistic combination of many messages at once, each from exactly the shares given for it (t of them):
    /// the signature where y^e = x holds, null where it does not (then <see cref="Combine"/> with proofs finds out who
    /// lied). Cheaper per message than <see cref="Combine"/>: the modular inversions of the whole batch are done as one
    /// (an inversion costs more than everything else in a combination together).
    /// </summary>
    public static byte[]?[] CombineOptimistic(ThresholdRsaPublicKey publicKey, IReadOnlyList<byte[]> encodedMessages, IReadOnlyList<IReadOnlyList<RsaSignatureShare>> shares)
    {
        if (shares.Count != encodedMessages.Count) throw new ArgumentException($"{shares.Count} share lists for {encodedMessages.Count} messages");
        var results = new byte[]?[encodedMessages.Count];
        using var ctx = new BigNumContext();
        using var n = BigNum.FromBytes(publicKey.Modulus);
        using var e = BigNum.FromBytes(publicKey.Exponent);
        var (a, b) = publicKey.CombineExponents;
        using var magnitudeA = BigNum.FromBigInteger(BigInteger.Abs(a));
        using var magnitudeB = BigNum.FromBigInteger(BigInteger.Abs(b));
        var exponents = new Dictionary<string, IReadOnlyList<BigInteger>>(); // per set of share indexes: 2λ_i
        // y = w^a · x^b with w = Π x_i^{2λ_i}. Every negative power is gathered into a denominator, so that each
        // message needs y = P / Q with a single inverse of Q, and the inverses of all Qs come from one inversion.
        var parts = new (BigNum X, BigNum P, BigNum Q)?[encodedMessages.Count];
        try
        {
            for (int m = 0; m < encodedMessages.Count; m++)
            {
                var set = shares[m];
                if (set.Count != publicKey.Threshold || set.Select(s => s.Index).Distinct().Count() != set.Count || set.Any(s => s.Index < 1 || s.Index > publicKey.Parties)) continue;
                var indexes = set.Select(s => s.Index).ToList();
                string setKey = string.Join(",", indexes);
                if (!exponents.TryGetValue(setKey, out var twoLambda))
                    exponents[setKey] = twoLambda = indexes.Select(i => 2 * ThresholdRsaMath.Lagrange(publicKey.Delta, indexes, i)).ToList();
                parts[m] = Fraction(ThresholdRsaMath.MessageToInteger(encodedMessages[m], n, ctx), set, twoLambda);
            }
            var inverses = BatchInverse(parts.Select(p => p?.Q).ToList(), n, ctx);
            for (int m = 0; m < parts.Length; m++)
            {
                if (parts[m] is not { } part || inverses[m] is not { } inverse) continue;
                using var y = BigNum.ModMul(part.P, inverse, n, ctx);
                using var check = BigNum.ModExp(y, e, n, ctx);
                if (check.CompareTo(part.X) == 0) results[m] = y.ToBytes(publicKey.ModulusBytes);
            }
            foreach (var inverse in inverses) inverse?.Dispose();
        }
        finally
        {
            foreach (var part in parts)
                if (part is { } p)
                {
                    p.X.Dispose();
                    p.P.Dispose();
                    p.Q.Dispose();
                }
        }
        return results;

        (BigNum X, BigNum P, BigNum Q)? Fraction(BigNum x, IReadOnlyList<RsaSignatureShare> set, IReadOnlyList<BigInteger> twoLambda)
        {
            var numerator = BigNum.FromWord(1);
            var denominator = BigNum.FromWord(1);
            try
            {
                for (int k = 0; k < set.Count; k++)
                {
                    using var xi = BigNum.FromBytes(set[k].Value);
                    if (xi.IsZero || xi.CompareTo(n) >= 0)
                    {
                        x.Dispose();
                        return null;
                    }
                    using var magnitude = BigNum.FromBigInteger(BigInteger.Abs(twoLambda[k]));
                    using var power = BigNum.ModExp(xi, magnitude, n, ctx);
                    ref var target = ref twoLambda[k].Sign < 0 ? ref denominator : ref numerator;
                    var next = BigNum.ModMul(target, power, n, ctx);
                    target.Dispose();
                    target = next;
                }
                // w = numerator / denominator; 4Δ²a + eb = 1 makes a and b of opposite signs.
                //   a ≥ 0, b ≤ 0: y = numerator^a / (denominator^a · x^|b|)
                //   a < 0, b > 0: y = denominator^|a| · x^b / numerator^|a|
                var up = BigNum.ModExp(a.Sign >= 0 ? numerator : denominator, magnitudeA, n, ctx);
                var down = BigNum.ModExp(a.Sign >= 0 ? denominator : numerator, magnitudeA, n, ctx);
                using var xb = BigNum.ModExp(x, magnitudeB, n, ctx);
                if (b.Sign <= 0)
                {
                    using (down) return (x, up, BigNum.ModMul(down, xb, n, ctx));
                }
                using (up) return (x, BigNum.ModMul(up, xb, n, ctx), down);
            }
            finally
            {
                numerator.Dispose();
                denominator.Dispose();
            }
        }
    }

    /// <summary>
    /// The inverses mod n of every value given (null stays null), with one modular inversion for all of them
    /// (Montgomery's trick). Should the product have no inverse, each value is inverted alone and those without an
    /// inverse give null.
    /// </summary>
    private static BigNum?[] BatchInverse(IReadOnlyList<BigNum?> values, BigNum n, BigNumContext ctx)
    {
        var result = new BigNum?[values.Count];
        var present = Enumerable.Range(0, values.Count).Where(i => values[i] is not null).ToList();
        if (present.Count == 0) return result;
        // prefix[k] = v_0 · … · v_(k−1) over the present values
        var prefix = new BigNum[present.Count + 1];
        prefix[0] = BigNum.FromWord(1);
        try
        {
            for (int k = 0; k < present.Count; k++) prefix[k + 1] = BigNum.ModMul(prefix[k], values[present[k]]!, n, ctx);
            BigNum inverse;
            try
            {
                inverse = BigNum.ModInverse(prefix[present.Count], n, ctx);
            }
            catch (CryptographicException)
            {
                foreach (var i in present)
                {
                    try { result[i] = BigNum.ModInverse(values[i]!, n, ctx); }
                    catch (CryptographicException) { }
                }
                return result;
            }
            for (int k = present.Count - 1; k >= 0; k--)
            {
                result[present[k]] = BigNum.ModMul(prefix[k], inverse, n, ctx);
                var next = BigNum.ModMul(inverse, values[present[k]]!, n, ctx);
                inverse.Dispose();
                inverse = next;
            }
            inverse.Dispose();
            return result;
        }
        finally
        {
            foreach (var p in prefix) p?.Dispose();
        }
    }
}

/// <summary>A combined signature (already checked with y^e = x) and the share holders whose shares were proven wrong.</summary>
public sealed record RsaCombineResult(byte[] Signature, IReadOnlyList<int> BadHolders);

/// <summary>Public-value helpers of the scheme.</summary>
internal static class ThresholdRsaMath
{
    /// <summary>λ_{0,j} = Δ · Π_{j'≠j} j' / (j' − j), an integer because Δ = n!.</summary>
    public static BigInteger Lagrange(BigInteger delta, IReadOnlyList<int> indexes, int j)
    {
        BigInteger numerator = delta, denominator = 1;
        foreach (var other in indexes)
        {
            if (other == j) continue;
            numerator *= other;
            denominator *= other - j;
        }
        return numerator / denominator;
    }

    /// <summary>a, b with x·a + y·b = 1 (extended Euclid); x and y coprime.</summary>
    public static (BigInteger A, BigInteger B) Bezout(BigInteger x, BigInteger y)
    {
        BigInteger oldR = x, r = y, oldS = 1, s = 0, oldT = 0, t = 1;
        while (!r.IsZero)
        {
            var quotient = BigInteger.Divide(oldR, r);
            (oldR, r) = (r, oldR - quotient * r);
            (oldS, s) = (s, oldS - quotient * s);
            (oldT, t) = (t, oldT - quotient * t);
        }
        if (oldR != 1) throw new CryptographicException("4Δ² and e are not coprime");
        return (oldS, oldT);
    }

    public static BigNum MessageToInteger(ReadOnlySpan<byte> encodedMessage, BigNum n, BigNumContext ctx)
    {
        var x = BigNum.FromBytes(encodedMessage);
        if (x.CompareTo(n) >= 0 || x.IsZero)
        {
            x.Dispose();
            throw new ArgumentException("encoded message must be a non-zero number below the modulus");
        }
        return x;
    }

    /// <summary>c = SHA-256(v, x̃, v_i, x_i², v', x'), each as |N| big-endian bytes (Shoup's hash H').</summary>
    public static byte[] Challenge(int length, BigNum v, BigNum xTilde, byte[] vi, BigNum xiSquared, BigNum vPrime, BigNum xPrime)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(v.ToBytes(length));
        hash.AppendData(xTilde.ToBytes(length));
        hash.AppendData(vi.Length == length ? vi : [.. new byte[Math.Max(0, length - vi.Length)], .. vi]);
        hash.AppendData(xiSquared.ToBytes(length));
        hash.AppendData(vPrime.ToBytes(length));
        hash.AppendData(xPrime.ToBytes(length));
        return hash.GetHashAndReset();
    }
}

/// <summary>EMSA-PKCS1-v1_5 (RFC 8017 §9.2): what an RSA/SHA-x DNSSEC signature (RFC 5702) signs.</summary>
public static class Pkcs1
{
    private static readonly byte[] Sha256Prefix = Convert.FromHexString("3031300d060960864801650304020105000420");
    private static readonly byte[] Sha512Prefix = Convert.FromHexString("3051300d060960864801650304020305000440");

    /// <summary>Hashes <paramref name="message"/> and encodes the DigestInfo to <paramref name="modulusBytes"/> bytes.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> message, HashAlgorithmName hash, int modulusBytes)
    {
        byte[] digest, prefix;
        if (hash == HashAlgorithmName.SHA256) { digest = SHA256.HashData(message); prefix = Sha256Prefix; }
        else if (hash == HashAlgorithmName.SHA512) { digest = SHA512.HashData(message); prefix = Sha512Prefix; }
        else throw new NotSupportedException($"hash {hash} is not used by RSA DNSSEC algorithms here");
        int tLength = prefix.Length + digest.Length;
        if (modulusBytes < tLength + 11) throw new ArgumentException("modulus too short for this hash");
        var em = new byte[modulusBytes];
        em[1] = 0x01;
        em.AsSpan(2, modulusBytes - tLength - 3).Fill(0xFF);
        prefix.CopyTo(em, modulusBytes - tLength);
        digest.CopyTo(em, modulusBytes - digest.Length);
        return em;
    }
}
