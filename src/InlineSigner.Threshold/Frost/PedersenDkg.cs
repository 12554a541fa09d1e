using System.Security.Cryptography;

namespace InlineSigner.Threshold.Frost;

/// <summary>A participant's broadcast in round 1: commitments to its polynomial and a proof of knowledge of its secret.</summary>
public sealed record DkgRound1Package(int Sender, IReadOnlyList<byte[]> Commitments, byte[] ProofR, byte[] ProofMu);

/// <summary>A complaint: <see cref="Accuser"/> received from <see cref="Accused"/> a share that does not match its commitments.</summary>
public sealed record DkgComplaint(int Accuser, int Accused, byte[] ReceivedShare);

/// <summary>A participant's outcome: its signing share and the group's public key with everyone's verification shares.</summary>
public sealed record DkgResult(FrostKeyShare Share, FrostPublicKey PublicKey);

/// <summary>The DKG could not finish for this participant; <see cref="Cheaters"/> names who broke it.</summary>
public sealed class DkgException(string message, IReadOnlyList<int> cheaters, IReadOnlyList<DkgComplaint> complaints) : Exception(message)
{
    public IReadOnlyList<int> Cheaters { get; } = cheaters;
    public IReadOnlyList<DkgComplaint> Complaints { get; } = complaints;
}

/// <summary>
/// Pedersen distributed key generation with proofs of knowledge, as in the FROST paper (Komlo–Goldberg 2020, §5.1):
/// no dealer ever holds the group secret. Round 1: each participant commits to a random polynomial of degree t−1 and
/// proves knowledge of its constant term (a Schnorr proof bound to its identifier and the session context); a
/// participant whose proof fails is disqualified. Round 2: each sends f_i(ℓ) privately to every ℓ, who checks it
/// against the commitments and complains (with the share as evidence) when it does not match. The final share is
/// s_ℓ = Σ f_i(ℓ); the group key is Σ φ_i0.
/// </summary>
public sealed class PedersenDkgParticipant : IDisposable
{
    private readonly byte[] _context;
    private readonly List<byte[]> _coefficients = [];
    private IReadOnlyList<DkgRound1Package>? _accepted;

    public PedersenDkgParticipant(int identifier, int threshold, int parties, ReadOnlySpan<byte> sessionContext)
    {
        if (parties is < 1 or > 255 || threshold < 1 || threshold > parties) throw new ArgumentException($"threshold {threshold} of {parties} is not valid");
        if (identifier < 1 || identifier > parties) throw new ArgumentException($"identifier {identifier} is not 1..{parties}");
        Identifier = identifier;
        Threshold = threshold;
        Parties = parties;
        _context = sessionContext.ToArray();
        for (int k = 0; k < threshold; k++) _coefficients.Add(Ed25519Group.RandomScalar());
    }

    public int Identifier { get; }
    public int Threshold { get; }
    public int Parties { get; }

    /// <summary>Round 1 broadcast.</summary>
    public DkgRound1Package Round1()
    {
        var commitments = _coefficients.Select(a => Ed25519Group.BaseMul(a)).ToList();
        var k = Ed25519Group.RandomScalar();
        var r = Ed25519Group.BaseMul(k);
        var c = ProofChallenge(Identifier, _context, commitments[0], r);
        var mu = Ed25519Group.Add(k, Ed25519Group.Mul(_coefficients[0], c));
        CryptographicOperations.ZeroMemory(k);
        return new DkgRound1Package(Identifier, commitments, r, mu);
    }

    /// <summary>Checks everyone's round 1 (proofs, shapes); returns the private shares f_i(ℓ) to send to each other ℓ.</summary>
    public IReadOnlyDictionary<int, byte[]> Round2(IReadOnlyList<DkgRound1Package> packages)
    {
        var cheaters = new List<int>();
        var byId = new Dictionary<int, DkgRound1Package>();
        foreach (var package in packages)
        {
            if (package.Sender < 1 || package.Sender > Parties || byId.ContainsKey(package.Sender)) { cheaters.Add(package.Sender); continue; }
            if (!VerifyProof(package, _context, Threshold)) { cheaters.Add(package.Sender); continue; }
            byId[package.Sender] = package;
        }
        var missing = Enumerable.Range(1, Parties).Where(i => !byId.ContainsKey(i) && !cheaters.Contains(i)).ToList();
        if (cheaters.Count > 0 || missing.Count > 0)
            throw new DkgException($"round 1: invalid packages from [{string.Join(", ", cheaters)}], missing from [{string.Join(", ", missing)}]",
                cheaters.Concat(missing).Distinct().Order().ToList(), []);
        _accepted = byId.Values.OrderBy(p => p.Sender).ToList();
        var shares = new Dictionary<int, byte[]>();
        for (int l = 1; l <= Parties; l++) shares[l] = Evaluate(l);
        return shares;
    }

    /// <summary>
    /// Finishes with the shares received from every participant (its own included). Shares that do not match their
    /// sender's commitments become complaints; with any complaint the DKG fails for everyone and the accused are named.
    /// </summary>
    public DkgResult Finish(IReadOnlyDictionary<int, byte[]> receivedShares)
    {
        var accepted = _accepted ?? throw new InvalidOperationException("Round2 must run before Finish");
        var complaints = new List<DkgComplaint>();
        foreach (var package in accepted)
        {
            if (!receivedShares.TryGetValue(package.Sender, out var received) || !ShareMatches(received, Identifier, package.Commitments))
                complaints.Add(new DkgComplaint(Identifier, package.Sender, receivedShares.TryGetValue(package.Sender, out var s) ? s.ToArray() : []));
        }
        if (complaints.Count > 0)
            throw new DkgException($"round 2: shares from [{string.Join(", ", complaints.Select(c => c.Accused))}] do not match their commitments",
                complaints.Select(c => c.Accused).ToList(), complaints);

        var secret = new byte[32];
        foreach (var package in accepted) secret = Ed25519Group.Add(secret, receivedShares[package.Sender]);
        var groupKey = accepted.Select(p => p.Commitments[0]).Aggregate((a, b) => Ed25519Group.AddPoints(a, b));
        var verificationShares = Enumerable.Range(1, Parties).ToDictionary(j => j, j => VerificationShare(accepted, j));
        var share = new FrostKeyShare(Identifier, secret);
        CryptographicOperations.ZeroMemory(secret);
        if (!share.VerificationShare().AsSpan().SequenceEqual(verificationShares[Identifier]))
            throw new CryptographicException("own share does not match the commitments");
        return new DkgResult(share, new FrostPublicKey(groupKey, verificationShares, Threshold));
    }

    /// <summary>
    /// Judges a complaint once the accused has revealed the share publicly: true when the accused is at fault (the
    /// revealed share does not match its commitments, or differs from what the accuser says it received).
    /// </summary>
    public static bool AccusedIsAtFault(DkgComplaint complaint, DkgRound1Package accusedPackage, ReadOnlySpan<byte> revealedShare) =>
        !ShareMatches(revealedShare, complaint.Accuser, accusedPackage.Commitments);

    public static bool VerifyProof(DkgRound1Package package, ReadOnlySpan<byte> context, int threshold)
    {
        if (package.Commitments.Count != threshold) return false;
        if (package.Commitments.Any(c => !Ed25519Group.IsValidElement(c)) || !Ed25519Group.IsValidElement(package.ProofR)) return false;
        if (!Ed25519Group.IsCanonicalScalar(package.ProofMu)) return false;
        try
        {
            // R = [μ]B − [c]φ_0
            var c = ProofChallenge(package.Sender, context.ToArray(), package.Commitments[0], package.ProofR);
            var expected = Ed25519Group.SubPoints(Ed25519Group.BaseMul(package.ProofMu), Ed25519Group.MulPoint(c, package.Commitments[0]));
            return expected.AsSpan().SequenceEqual(package.ProofR);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static bool ShareMatches(ReadOnlySpan<byte> share, int receiver, IReadOnlyList<byte[]> commitments)
    {
        if (!Ed25519Group.IsCanonicalScalar(share)) return false;
        try
        {
            return Ed25519Group.BaseMul(share).AsSpan().SequenceEqual(EvaluateCommitments(commitments, receiver));
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Σ_k [ℓ^k] φ_k: the public image of f(ℓ).</summary>
    private static byte[] EvaluateCommitments(IReadOnlyList<byte[]> commitments, int l)
    {
        var x = Ed25519Group.ScalarFromInt(l);
        var power = Ed25519Group.ScalarFromInt(1);
        byte[]? sum = null;
        foreach (var commitment in commitments)
        {
            var term = Ed25519Group.MulPoint(power, commitment);
            sum = sum is null ? term : Ed25519Group.AddPoints(sum, term);
            power = Ed25519Group.Mul(power, x);
        }
        return sum!;
    }

    private static byte[] VerificationShare(IReadOnlyList<DkgRound1Package> packages, int j) =>
        packages.Select(p => EvaluateCommitments(p.Commitments, j)).Aggregate((a, b) => Ed25519Group.AddPoints(a, b));

    private byte[] Evaluate(int l)
    {
        var x = Ed25519Group.ScalarFromInt(l);
        var value = new byte[32];
        for (int k = _coefficients.Count - 1; k >= 0; k--) value = Ed25519Group.Add(Ed25519Group.Mul(value, x), _coefficients[k]);
        return value;
    }

    /// <summary>c = H(i, Φ, φ_0, R) with SHA-512 reduced mod L, domain-separated.</summary>
    private static byte[] ProofChallenge(int identifier, byte[] context, byte[] commitment0, byte[] r)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        sha.AppendData("FROST-ED25519-SHA512-v1 DKG"u8);
        sha.AppendData(Ed25519Group.ScalarFromInt(identifier));
        sha.AppendData(BitConverter.GetBytes(context.Length));
        sha.AppendData(context);
        sha.AppendData(commitment0);
        sha.AppendData(r);
        return Ed25519Group.Reduce64(sha.GetHashAndReset());
    }

    /// <summary>Test hook: a participant that sends a wrong share to one peer.</summary>
    internal static void CorruptShareFor(IDictionary<int, byte[]> shares, int receiver) =>
        shares[receiver] = Ed25519Group.Add(shares[receiver], Ed25519Group.ScalarFromInt(1));

    public void Dispose()
    {
        foreach (var c in _coefficients) CryptographicOperations.ZeroMemory(c);
    }

    public override string ToString() => $"DKG participant #{Identifier} ({Threshold} of {Parties})";
}
