using System.Numerics;
using System.Security.Cryptography;

namespace InlineSigner.Threshold.Frost;

/// <summary>A participant's long-lived signing share sk_i (secret) with its identifier. Zeroed on dispose.</summary>
public sealed class FrostKeyShare : IDisposable
{
    private readonly byte[] _secret;

    public FrostKeyShare(int identifier, ReadOnlySpan<byte> secret)
    {
        if (identifier < 1 || identifier > 255) throw new ArgumentException($"identifier {identifier} out of range");
        if (!Ed25519Group.IsCanonicalScalar(secret)) throw new ArgumentException("share is not a canonical scalar");
        Identifier = identifier;
        _secret = secret.ToArray();
    }

    public int Identifier { get; }
    internal ReadOnlySpan<byte> Secret => _secret;

    public byte[] VerificationShare() => Ed25519Group.BaseMul(_secret);

    public void Dispose() => CryptographicOperations.ZeroMemory(_secret);

    public override string ToString() => $"FROST key share #{Identifier} (secret not shown)";
}

/// <summary>The group's public side: the group key (an Ed25519 public key) and each participant's verification share.</summary>
public sealed record FrostPublicKey(byte[] GroupPublicKey, IReadOnlyDictionary<int, byte[]> VerificationShares, int Threshold)
{
    /// <summary>The DNSKEY public key of algorithm 15 is the 32-byte Ed25519 key itself (RFC 8080).</summary>
    public byte[] DnsKeyPublicKey() => GroupPublicKey.ToArray();
}

/// <summary>Round one commitments of a participant (public).</summary>
public sealed record FrostCommitment(int Identifier, byte[] Hiding, byte[] Binding);

/// <summary>
/// A participant's nonce pair for one signature (round one). Single use: <see cref="Consume"/> hands the secrets out
/// once and zeroes them; a second use throws, so a nonce can never sign two messages.
/// </summary>
public sealed class FrostNonce : IDisposable
{
    private byte[]? _hiding;
    private byte[]? _binding;

    internal FrostNonce(int identifier, byte[] hiding, byte[] binding)
    {
        _hiding = hiding;
        _binding = binding;
        Commitment = new FrostCommitment(identifier, Ed25519Group.BaseMul(hiding), Ed25519Group.BaseMul(binding));
        // Decoded now, in round one (done ahead, in batches), so round two does not decode its own commitments again.
        if (!EdwardsPoint.TryDecode(Commitment.Hiding, out var hidingPoint) || !EdwardsPoint.TryDecode(Commitment.Binding, out var bindingPoint))
            throw new CryptographicException("a commitment computed by libsodium does not decode");
        Points = (hidingPoint, bindingPoint);
    }

    public FrostCommitment Commitment { get; }

    /// <summary>The commitments as points (public values).</summary>
    internal (EdwardsPoint Hiding, EdwardsPoint Binding) Points { get; }

    public bool Used => _hiding is null;

    internal (byte[] Hiding, byte[] Binding) Consume()
    {
        var pair = (_hiding ?? throw new InvalidOperationException("this FROST nonce was already used; a nonce signs one message only"), _binding!);
        _hiding = null;
        _binding = null;
        return pair;
    }

    public void Dispose()
    {
        if (_hiding is not null) CryptographicOperations.ZeroMemory(_hiding);
        if (_binding is not null) CryptographicOperations.ZeroMemory(_binding);
        _hiding = _binding = null;
    }
}

/// <summary>
/// What every participant and the coordinator derive from the message and the commitment list (RFC 9591 §5.2–5.3):
/// binding factors, group commitment R, challenge c and the Lagrange coefficients. Each party computes its own.
/// </summary>
public sealed record FrostSigningPackage(
    byte[] Message,
    IReadOnlyList<FrostCommitment> Commitments,
    IReadOnlyDictionary<int, byte[]> BindingFactors,
    byte[] GroupCommitment,
    byte[] Challenge,
    IReadOnlyDictionary<int, byte[]> Lagrange);

/// <summary>
/// FROST(Ed25519, SHA-512) as specified in RFC 9591: two-round threshold Schnorr signatures whose aggregate is a
/// plain RFC 8032 Ed25519 signature. Context string "FROST-ED25519-SHA512-v1".
/// </summary>
public static class FrostEd25519
{
    private static readonly byte[] Context = "FROST-ED25519-SHA512-v1"u8.ToArray();

    // ---- hashes (RFC 9591 §6.5)
    /// <summary>
    /// SHA-512 of prefix ‖ label ‖ m reduced mod L, in one shot (an IncrementalHash per call cost more than the hash of
    /// these short inputs). The joined input is zeroed afterwards: for H3 it holds a secret share.
    /// </summary>
    private static byte[] HashToScalar(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> label, ReadOnlySpan<byte> m)
    {
        var input = new byte[prefix.Length + label.Length + m.Length];
        prefix.CopyTo(input);
        label.CopyTo(input.AsSpan(prefix.Length));
        m.CopyTo(input.AsSpan(prefix.Length + label.Length));
        Span<byte> digest = stackalloc byte[64];
        SHA512.HashData(input, digest);
        CryptographicOperations.ZeroMemory(input);
        var scalar = Ed25519Group.Reduce64(digest);
        CryptographicOperations.ZeroMemory(digest);
        return scalar;
    }

    private static byte[] H1(ReadOnlySpan<byte> m) => HashToScalar(Context, "rho"u8, m);
    private static byte[] H2(ReadOnlySpan<byte> m) => HashToScalar([], [], m);
    private static byte[] H3(ReadOnlySpan<byte> m) => HashToScalar(Context, "nonce"u8, m);
    private static byte[] H4(byte[] m) => SHA512.HashData([.. Context, .. "msg"u8, .. m]);
    private static byte[] H5(byte[] m) => SHA512.HashData([.. Context, .. "com"u8, .. m]);

    /// <summary>nonce_generate: H3(random_bytes(32) || sk). Randomness is injectable only for the RFC test vectors.</summary>
    internal static byte[] NonceGenerate(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> randomness)
    {
        byte[] input = [.. randomness, .. secret];
        try { return H3(input); }
        finally { CryptographicOperations.ZeroMemory(input); }
    }

    /// <summary>Round one: fresh hiding and binding nonces and their commitments.</summary>
    public static FrostNonce Commit(FrostKeyShare share) =>
        Commit(share, RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Round one from caller-supplied randomness (32 bytes each) instead of fresh random bytes: for a share holder that
    /// must re-create a nonce after a restart, deriving the randomness from a persisted secret seed and a nonce number it
    /// never spends twice (the cluster node does this). The same randomness gives the same nonce, so the caller must
    /// make sure each derived nonce signs at most one message.
    /// </summary>
    public static FrostNonce CommitFromRandomness(FrostKeyShare share, ReadOnlySpan<byte> hidingRandomness, ReadOnlySpan<byte> bindingRandomness)
    {
        if (hidingRandomness.Length != 32 || bindingRandomness.Length != 32) throw new ArgumentException("nonce randomness must be 32 bytes each");
        return Commit(share, hidingRandomness, bindingRandomness);
    }

    internal static FrostNonce Commit(FrostKeyShare share, ReadOnlySpan<byte> hidingRandomness, ReadOnlySpan<byte> bindingRandomness) =>
        new(share.Identifier, NonceGenerate(share.Secret, hidingRandomness), NonceGenerate(share.Secret, bindingRandomness));

    /// <summary>
    /// The per-message values every party derives from the message and the sorted commitment list. Every commitment
    /// is checked to be a valid element of the prime-order subgroup (RFC 9591 DeserializeElement) except
    /// <paramref name="own"/>, the caller's own round-one commitment, which it made itself (a participant passes its
    /// nonce's commitment and saves two subgroup checks).
    /// </summary>
    public static FrostSigningPackage Prepare(byte[] message, IReadOnlyList<FrostCommitment> commitments, FrostPublicKey publicKey, FrostCommitment? own = null) =>
        Prepare(message, commitments, publicKey, own, ownPoints: null);

    /// <summary>
    /// The package as the holder of <paramref name="own"/> derives it: its own commitment is neither checked nor
    /// decoded again (the nonce decoded it in round one).
    /// </summary>
    public static FrostSigningPackage Prepare(byte[] message, IReadOnlyList<FrostCommitment> commitments, FrostPublicKey publicKey, FrostNonce own) =>
        Prepare(message, commitments, publicKey, own.Commitment, own.Points);

    private static FrostSigningPackage Prepare(byte[] message, IReadOnlyList<FrostCommitment> commitments, FrostPublicKey publicKey,
        FrostCommitment? own, (EdwardsPoint Hiding, EdwardsPoint Binding)? ownPoints)
    {
        var list = Sorted(commitments);
        int ownIndex = -1;
        for (int k = 0; k < list.Count; k++)
        {
            var c = list[k];
            if (own is not null && c.Identifier == own.Identifier && c.Hiding.AsSpan().SequenceEqual(own.Hiding) && c.Binding.AsSpan().SequenceEqual(own.Binding))
            {
                ownIndex = k;
                continue;
            }
            if (!Ed25519Group.IsValidElement(c.Hiding) || !Ed25519Group.IsValidElement(c.Binding)) throw InvalidCommitment(c.Identifier);
        }
        var bindingFactors = BindingFactors(publicKey.GroupPublicKey, list, message);
        var groupCommitment = GroupCommitment(list, bindingFactors, ownIndex, ownPoints);
        var challenge = Challenge(groupCommitment, publicKey.GroupPublicKey, message);
        var identifiers = list.Select(c => c.Identifier).ToList();
        var lagrange = LagrangeAll(identifiers);
        return new FrostSigningPackage(message, list, bindingFactors, groupCommitment, challenge, lagrange);
    }

    /// <summary>Round two: the signature share z_i for <paramref name="message"/> under the sorted commitment list.</summary>
    public static byte[] Sign(FrostKeyShare share, FrostNonce nonce, byte[] message, IReadOnlyList<FrostCommitment> commitments, FrostPublicKey publicKey) =>
        Sign(share, nonce, Prepare(message, commitments, publicKey, nonce));

    /// <summary>Round two from a package this participant computed itself.</summary>
    public static byte[] Sign(FrostKeyShare share, FrostNonce nonce, FrostSigningPackage package)
    {
        if (!package.Commitments.Any(c => c.Identifier == share.Identifier && c.Hiding.AsSpan().SequenceEqual(nonce.Commitment.Hiding) && c.Binding.AsSpan().SequenceEqual(nonce.Commitment.Binding)))
            throw new ArgumentException("the commitment list does not contain this participant's commitment");
        var (hiding, binding) = nonce.Consume();
        try
        {
            // z_i = d_i + e_i·ρ_i + λ_i·sk_i·c
            var eRho = Ed25519Group.Mul(binding, package.BindingFactors[share.Identifier]);
            var lambdaSk = Ed25519Group.Mul(package.Lagrange[share.Identifier], share.Secret);
            var term = Ed25519Group.Mul(lambdaSk, package.Challenge);
            var z = Ed25519Group.Add(Ed25519Group.Add(hiding, eRho), term);
            CryptographicOperations.ZeroMemory(eRho);
            CryptographicOperations.ZeroMemory(lambdaSk);
            CryptographicOperations.ZeroMemory(term);
            return z;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hiding);
            CryptographicOperations.ZeroMemory(binding);
        }
    }

    /// <summary>Checks one signature share against its participant's verification share (RFC 9591 §5.4).</summary>
    public static bool VerifyShare(int identifier, byte[] signatureShare, byte[] message, IReadOnlyList<FrostCommitment> commitments, FrostPublicKey publicKey)
    {
        try { return VerifyShare(identifier, signatureShare, Prepare(message, commitments, publicKey), publicKey); }
        catch (CryptographicException) { return false; }
    }

    public static bool VerifyShare(int identifier, byte[] signatureShare, FrostSigningPackage package, FrostPublicKey publicKey)
    {
        if (!Ed25519Group.IsCanonicalScalar(signatureShare)) return false;
        if (!publicKey.VerificationShares.TryGetValue(identifier, out var verificationShare)) return false;
        var commitment = package.Commitments.FirstOrDefault(c => c.Identifier == identifier);
        if (commitment is null) return false;
        try
        {
            var commShare = Ed25519Group.AddPoints(commitment.Hiding, Ed25519Group.MulPoint(package.BindingFactors[identifier], commitment.Binding));
            var left = Ed25519Group.BaseMul(signatureShare);
            var right = Ed25519Group.AddPoints(commShare, Ed25519Group.MulPoint(Ed25519Group.Mul(package.Challenge, package.Lagrange[identifier]), verificationShare));
            return left.AsSpan().SequenceEqual(right);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// Aggregates the shares into the Ed25519 signature R || z. Each share is verified first, so a cheating signer is
    /// named (<see cref="ThresholdSigningException.BadHolders"/>) instead of producing an invalid signature.
    /// </summary>
    public static byte[] Aggregate(byte[] message, IReadOnlyList<FrostCommitment> commitments, IReadOnlyDictionary<int, byte[]> signatureShares, FrostPublicKey publicKey) =>
        Aggregate(Prepare(message, commitments, publicKey), signatureShares, publicKey, verifyEachShare: true);

    /// <summary>
    /// Aggregates from a package. With <paramref name="verifyEachShare"/> false the optimistic path is taken: the sum
    /// is checked once as an Ed25519 signature (much cheaper than t share checks); only if that fails are the shares
    /// checked one by one to name the cheaters. Either way a returned signature has been verified.
    /// </summary>
    public static byte[] Aggregate(FrostSigningPackage package, IReadOnlyDictionary<int, byte[]> signatureShares, FrostPublicKey publicKey, bool verifyEachShare)
    {
        if (package.Commitments.Count < publicKey.Threshold) throw new ThresholdSigningException($"{package.Commitments.Count} commitments, {publicKey.Threshold} needed", []);
        if (!verifyEachShare && package.Commitments.All(c => signatureShares.TryGetValue(c.Identifier, out var z) && Ed25519Group.IsCanonicalScalar(z)))
        {
            var candidate = Sum(package, signatureShares);
            if (Ed25519Group.VerifySignature(candidate, package.Message, publicKey.GroupPublicKey)) return candidate;
        }
        var bad = package.Commitments.Where(c => !signatureShares.TryGetValue(c.Identifier, out var z) || !VerifyShare(c.Identifier, z, package, publicKey))
            .Select(c => c.Identifier).ToList();
        if (bad.Count > 0) throw new ThresholdSigningException($"signature shares from [{string.Join(", ", bad)}] are missing or invalid", bad);
        var signature = Sum(package, signatureShares);
        if (!Ed25519Group.VerifySignature(signature, package.Message, publicKey.GroupPublicKey))
            throw new ThresholdSigningException("aggregate signature does not verify although every share did", []);
        return signature;
    }

    /// <summary>
    /// The coordinator's shortcut when the signers report the group commitment R they derived: (R, Σ z_i) if that
    /// verifies as a plain Ed25519 signature of <paramref name="message"/>, else null (then derive the package with
    /// <see cref="Prepare"/> and <see cref="Aggregate(FrostSigningPackage, IReadOnlyDictionary{int, byte[]}, FrostPublicKey, bool)"/>
    /// to find out who lied). Costs additions and one verification instead of the t multiplications of R.
    /// </summary>
    public static byte[]? CombineVerified(ReadOnlySpan<byte> groupCommitment, IEnumerable<byte[]> signatureShares, byte[] message, FrostPublicKey publicKey)
    {
        if (groupCommitment.Length != Ed25519Group.ElementSize) return null;
        var z = new byte[32];
        int count = 0;
        foreach (var share in signatureShares)
        {
            if (!Ed25519Group.IsCanonicalScalar(share)) return null;
            z = Ed25519Group.Add(z, share);
            count++;
        }
        if (count < publicKey.Threshold) return null;
        byte[] signature = [.. groupCommitment, .. z];
        return Ed25519Group.VerifySignature(signature, message, publicKey.GroupPublicKey) ? signature : null;
    }

    private static byte[] Sum(FrostSigningPackage package, IReadOnlyDictionary<int, byte[]> signatureShares)
    {
        var z = new byte[32];
        foreach (var c in package.Commitments) z = Ed25519Group.Add(z, signatureShares[c.Identifier]);
        return [.. package.GroupCommitment, .. z];
    }

    private static List<FrostCommitment> Sorted(IReadOnlyList<FrostCommitment> commitments)
    {
        var list = commitments.OrderBy(c => c.Identifier).ToList();
        for (int i = 1; i < list.Count; i++)
            if (list[i].Identifier == list[i - 1].Identifier) throw new ArgumentException($"participant {list[i].Identifier} appears twice in the commitment list");
        return list;
    }

    internal static Dictionary<int, byte[]> BindingFactors(byte[] groupPublicKey, List<FrostCommitment> list, byte[] message)
    {
        // encode_group_commitment_list: identifier ‖ hiding ‖ binding for each, copied in place (a LINQ chain over the
        // bytes cost more than the hash).
        var encoded = new byte[list.Count * 96];
        for (int k = 0; k < list.Count; k++)
        {
            var c = list[k];
            if (c.Hiding.Length != Ed25519Group.ElementSize || c.Binding.Length != Ed25519Group.ElementSize) throw InvalidCommitment(c.Identifier);
            Ed25519Group.ScalarFromInt(c.Identifier).CopyTo(encoded, 96 * k);
            c.Hiding.CopyTo(encoded, 96 * k + 32);
            c.Binding.CopyTo(encoded, 96 * k + 64);
        }
        // rho_input = prefix ‖ identifier: the prefix is written once and only the identifier changes.
        var input = new byte[32 + 64 + 64 + 32];
        groupPublicKey.CopyTo(input, 0);
        H4(message).CopyTo(input, 32);
        H5(encoded).CopyTo(input, 96);
        var factors = new Dictionary<int, byte[]>(list.Count);
        foreach (var c in list)
        {
            Ed25519Group.ScalarFromInt(c.Identifier).CopyTo(input, 160);
            factors[c.Identifier] = H1(input);
        }
        return factors;
    }

    /// <summary>
    /// R = Σ D_j + ρ_j·E_j over the (already validated) commitments: one variable-time multi-scalar multiplication on
    /// public values instead of t constant-time multiplications and 2t compressed additions.
    /// </summary>
    internal static byte[] GroupCommitment(List<FrostCommitment> list, Dictionary<int, byte[]> bindingFactors) => GroupCommitment(list, bindingFactors, -1, null);

    private static byte[] GroupCommitment(List<FrostCommitment> list, Dictionary<int, byte[]> bindingFactors, int ownIndex, (EdwardsPoint Hiding, EdwardsPoint Binding)? ownPoints)
    {
        var points = new List<EdwardsPoint>(list.Count);
        var factors = new List<byte[]>(list.Count);
        var sum = EdwardsPoint.Identity;
        for (int k = 0; k < list.Count; k++)
        {
            var c = list[k];
            EdwardsPoint hiding, binding;
            if (k == ownIndex && ownPoints is { } decoded) (hiding, binding) = decoded;
            else if (!EdwardsPoint.TryDecode(c.Hiding, out hiding) || !EdwardsPoint.TryDecode(c.Binding, out binding)) throw InvalidCommitment(c.Identifier);
            sum = EdwardsPoint.Add(sum, hiding);
            points.Add(binding);
            factors.Add(bindingFactors[c.Identifier]);
        }
        sum = EdwardsPoint.Add(sum, EdwardsPoint.MultiScalarMulVartime(factors, points));
        // RFC 9591 refuses to serialize the identity; a commitment list that sums to it cannot be signed.
        if (sum.IsIdentity) throw new ThresholdSigningException("the commitments sum to the identity; round one must be repeated", []);
        return sum.Encode();
    }

    private static ThresholdSigningException InvalidCommitment(int identifier) =>
        new($"participant {identifier} sent an invalid commitment", [identifier]);

    internal static byte[] Challenge(byte[] groupCommitment, byte[] groupPublicKey, byte[] message) =>
        H2([.. groupCommitment, .. groupPublicKey, .. message]);

    /// <summary>
    /// derive_interpolating_value (λ_i = Π_{j≠i} x_j / (x_j − x_i) over the scalar field) for every identifier. The
    /// identifiers are small public integers, so numerator and denominator are exact integers and the one inversion
    /// each needs is an extended Euclid against L on a number of a few bytes (libsodium's scalar inversion is an
    /// exponentiation, ten times dearer, and showed up in every signing package).
    /// </summary>
    internal static Dictionary<int, byte[]> LagrangeAll(IReadOnlyList<int> identifiers)
    {
        var result = new Dictionary<int, byte[]>(identifiers.Count);
        foreach (int i in identifiers)
        {
            BigInteger numerator = BigInteger.One, denominator = BigInteger.One;
            foreach (int j in identifiers)
            {
                if (j == i) continue;
                numerator *= j;
                denominator *= j - i;
            }
            if (denominator.IsZero) throw new ArgumentException($"identifier {i} appears twice");
            var lambda = BigInteger.Remainder(numerator * InverseModOrder(denominator), OrderValue);
            if (lambda.Sign < 0) lambda += OrderValue;
            result[i] = ScalarBytes(lambda);
        }
        return result;
    }

    private static readonly BigInteger OrderValue = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>a^−1 mod L by the extended Euclidean algorithm (variable time: public values only).</summary>
    private static BigInteger InverseModOrder(BigInteger a)
    {
        BigInteger r0 = OrderValue, r1 = BigInteger.Remainder(a, OrderValue), s0 = BigInteger.Zero, s1 = BigInteger.One;
        if (r1.Sign < 0) r1 += OrderValue;
        while (!r1.IsZero)
        {
            var q = BigInteger.DivRem(r0, r1, out var r2);
            (r0, r1) = (r1, r2);
            (s0, s1) = (s1, s0 - q * s1);
        }
        if (!r0.IsOne) throw new ArgumentException("not invertible modulo the group order");
        return s0.Sign < 0 ? s0 + OrderValue : s0;
    }

    private static byte[] ScalarBytes(BigInteger value)
    {
        var bytes = new byte[32];
        if (!value.TryWriteBytes(bytes, out _, isUnsigned: true, isBigEndian: false)) throw new InvalidOperationException("scalar does not fit 32 bytes");
        return bytes;
    }

    /// <summary>
    /// Trusted-dealer key generation (RFC 9591 Appendix C): Shamir shares of <paramref name="secret"/> (random when
    /// null) and the VSS commitment. For tests and migration; the cluster uses distributed key generation.
    /// </summary>
    public static (FrostPublicKey PublicKey, IReadOnlyList<FrostKeyShare> Shares, IReadOnlyList<byte[]> VssCommitment) TrustedDealerKeygen(
        int threshold, int parties, byte[]? secret = null, IReadOnlyList<byte[]>? coefficients = null)
    {
        if (threshold < 1 || threshold > parties || parties > 255) throw new ArgumentException($"threshold {threshold} of {parties} is not valid");
        var a0 = secret?.ToArray() ?? Ed25519Group.RandomScalar();
        var coeffs = new List<byte[]> { a0 };
        for (int k = 1; k < threshold; k++) coeffs.Add(coefficients is not null ? coefficients[k - 1].ToArray() : Ed25519Group.RandomScalar());
        try
        {
            var shares = new List<FrostKeyShare>();
            for (int i = 1; i <= parties; i++)
            {
                // Horner's rule over the scalar field.
                var x = Ed25519Group.ScalarFromInt(i);
                var value = new byte[32];
                for (int k = coeffs.Count - 1; k >= 0; k--) value = Ed25519Group.Add(Ed25519Group.Mul(value, x), coeffs[k]);
                shares.Add(new FrostKeyShare(i, value));
                CryptographicOperations.ZeroMemory(value);
            }
            var vss = coeffs.Select(c => Ed25519Group.BaseMul(c)).ToList();
            var publicKey = new FrostPublicKey(vss[0], shares.ToDictionary(s => s.Identifier, s => s.VerificationShare()), threshold);
            return (publicKey, shares, vss);
        }
        finally
        {
            foreach (var c in coeffs) CryptographicOperations.ZeroMemory(c);
        }
    }
}
