using System.Security.Cryptography;
using InlineSigner.Threshold.Encoding;
using InlineSigner.Threshold.OpenSsl;

namespace InlineSigner.Threshold.Rsa;

/// <summary>
/// A Shoup threshold RSA key as a DNSSEC key: algorithm 8 (RSA/SHA-256) or 10 (RSA/SHA-512), PKCS#1 v1.5 signatures.
/// </summary>
public sealed class ShoupRsaKey : IThresholdPublicKey
{
    public ShoupRsaKey(ThresholdRsaPublicKey key, byte algorithm)
    {
        Hash = algorithm switch
        {
            8 => HashAlgorithmName.SHA256,
            10 => HashAlgorithmName.SHA512,
            _ => throw new ArgumentException($"threshold RSA signs DNSSEC algorithms 8 and 10, not {algorithm}"),
        };
        Key = key;
        Algorithm = algorithm;
    }

    public ThresholdRsaPublicKey Key { get; }
    public byte Algorithm { get; }
    public HashAlgorithmName Hash { get; }
    public int Threshold => Key.Threshold;
    public int Parties => Key.Parties;

    public byte[] DnsKeyPublicKey() => Key.DnsKeyPublicKey();

    /// <summary>The PKCS#1 v1.5 encoding of a signing input: the value the shares exponentiate.</summary>
    public byte[] Encode(ReadOnlySpan<byte> signingInput) => Pkcs1.Encode(signingInput, Hash, Key.ModulusBytes);

    public bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != Key.ModulusBytes) return false;
        var expected = Encode(signingInput);
        using var ctx = new BigNumContext();
        using var n = BigNum.FromBytes(Key.Modulus);
        using var e = BigNum.FromBytes(Key.Exponent);
        using var y = BigNum.FromBytes(signature);
        if (y.CompareTo(n) >= 0) return false;
        using var x = BigNum.ModExp(y, e, n, ctx);
        return CryptographicOperations.FixedTimeEquals(x.ToBytes(Key.ModulusBytes), expected);
    }
}

/// <summary>
/// Threshold RSA signing request: 0x14 | version 1 | flags u8 (bit 0: with proofs; other bits 0) | count u32 | each:
/// the PKCS#1 v1.5-encoded message (u16 length, |N| bytes).
/// </summary>
public sealed record RsaSignRequest(bool WithProofs, IReadOnlyList<byte[]> EncodedMessages)
{
    internal const byte MessageType = 0x14;
    internal const byte Version = 1;

    public byte[] Encode()
    {
        var writer = new BinaryWriterBE(MessageType, Version, EncodedMessages.Sum(m => m.Length + 2) + 8)
            .U8(WithProofs ? (byte)1 : (byte)0).U32((uint)EncodedMessages.Count);
        foreach (var message in EncodedMessages) writer.Bytes(message);
        return writer.ToArray();
    }

    public static RsaSignRequest Decode(ReadOnlySpan<byte> data, int maxItems)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "RSA sign request");
        var flags = reader.U8();
        if (flags > 1) throw new ThresholdFormatException($"RSA sign request: unknown flags {flags}");
        int count = reader.Count(maxItems, 2, "messages");
        var messages = new byte[count][];
        for (int i = 0; i < count; i++) messages[i] = reader.Bytes(ThresholdRsaPublicKey.MaxModulusBytes);
        reader.End();
        return new RsaSignRequest(flags == 1, messages);
    }
}

/// <summary>
/// Threshold RSA signing answer: 0x15 | version 1 | count u32 | each: an encoded <see cref="RsaSignatureShare"/>
/// (u16 length), one per message of the request, in its order.
/// </summary>
public sealed record RsaSignAnswer(IReadOnlyList<RsaSignatureShare> Shares)
{
    internal const byte MessageType = 0x15;
    internal const byte Version = 1;
    private const int MaxShareBytes = 16 + 3 * ThresholdRsaPublicKey.MaxModulusBytes;

    public byte[] Encode()
    {
        var encoded = Shares.Select(s => s.Encode()).ToList();
        var writer = new BinaryWriterBE(MessageType, Version, encoded.Sum(s => s.Length + 2) + 8).U32((uint)encoded.Count);
        foreach (var share in encoded) writer.Bytes(share);
        return writer.ToArray();
    }

    public static RsaSignAnswer Decode(ReadOnlySpan<byte> data, int maxItems)
    {
        var reader = new BinaryReaderBE(data, MessageType, Version, "RSA sign answer");
        int count = reader.Count(maxItems, 2, "shares");
        var shares = new RsaSignatureShare[count];
        for (int i = 0; i < count; i++) shares[i] = RsaSignatureShare.Decode(reader.Bytes(MaxShareBytes));
        reader.End();
        return new RsaSignAnswer(shares);
    }
}

/// <summary>
/// Shoup RSA's coordinator: one signing round to any t holders (the same request for each), combined optimistically
/// in chunks that share one modular inversion; where that fails, the round again with proofs, which names the liars.
/// </summary>
public sealed class ShoupRsaCoordinator(ShoupRsaKey key) : IThresholdCoordinator
{
    public ShoupRsaKey Key { get; } = key;
    public IThresholdPublicKey PublicKey => Key;
    public bool HasPreprocessing => false;
    public bool HasProofs => true;

    public byte[] PreprocessRequest(int count) => throw new NotSupportedException("Shoup RSA has no preprocessing round");

    public IReadOnlyList<PreprocessedItem> ReadPreprocessAnswer(int holder, ReadOnlySpan<byte> answer, int count) =>
        throw new NotSupportedException("Shoup RSA has no preprocessing round");

    public IReadOnlyDictionary<int, HolderBlame> CheckPreprocessed(IReadOnlyDictionary<int, IReadOnlyList<PreprocessedItem>> items) =>
        new Dictionary<int, HolderBlame>();

    public ISigningBatch StartBatch(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs)
    {
        var encoded = new byte[signingInputs.Count][];
        for (int i = 0; i < encoded.Length; i++) encoded[i] = Key.Encode(signingInputs[i].Span);
        return new Batch(Key, encoded);
    }

    private sealed record Answer(int Holder, IReadOnlyList<RsaSignatureShare> Shares) : SigningAnswer(Holder);

    private sealed class Batch(ShoupRsaKey key, byte[][] encoded) : ISigningBatch
    {
        private readonly object _gate = new();
        private (SigningRound Round, byte[] Request)? _last;

        public int Count => encoded.Length;

        public byte[] Request(SigningRound round, int holder)
        {
            // Every holder gets the same request, and a round is asked of t nodes and spares: encode it once.
            lock (_gate)
            {
                if (_last is { } last && ReferenceEquals(last.Round, round)) return last.Request;
            }
            var request = new RsaSignRequest(round.WithProofs, round.Items.Select(i => encoded[i]).ToList()).Encode();
            lock (_gate) _last = (round, request);
            return request;
        }

        public SigningAnswer ReadAnswer(SigningRound round, int holder, ReadOnlySpan<byte> answer)
        {
            var shares = RsaSignAnswer.Decode(answer, round.Items.Count).Shares;
            if (shares.Count != round.Items.Count) throw new ThresholdFormatException($"{shares.Count} shares for {round.Items.Count} messages");
            foreach (var share in shares)
            {
                if (share.Index != holder) throw new ThresholdFormatException($"share #{share.Index} from holder {holder}");
                if (share.Value.Length != key.Key.ModulusBytes) throw new ThresholdFormatException($"share of {share.Value.Length} bytes for a {key.Key.ModulusBytes}-byte modulus");
            }
            return new Answer(holder, shares);
        }

        public CombineOutcome Combine(SigningRound round, IReadOnlyList<SigningAnswer> answers, CancellationToken cancellationToken)
        {
            var given = answers.Cast<Answer>().GroupBy(a => a.Holder).Select(g => g.First()).ToList();
            if (given.Count < key.Threshold) throw new ThresholdSigningException($"{given.Count} answers, {key.Threshold} needed", []);
            return round.WithProofs ? CombineProven(round, given) : CombineOptimistic(round, given.Take(key.Threshold).ToList(), cancellationToken);
        }

        private CombineOutcome CombineOptimistic(SigningRound round, List<Answer> first, CancellationToken cancellationToken)
        {
            var items = round.Items;
            var signatures = new byte[]?[items.Count];
            // In chunks (one per processor, at most 64 messages), each combined with a single modular inversion.
            int chunk = Math.Clamp((items.Count + Environment.ProcessorCount - 1) / Environment.ProcessorCount, 1, 64);
            Parallel.For(0, (items.Count + chunk - 1) / chunk, new ParallelOptions { CancellationToken = cancellationToken }, c =>
            {
                int from = c * chunk, count = Math.Min(chunk, items.Count - from);
                var combined = ThresholdRsaCombiner.CombineOptimistic(key.Key, Enumerable.Range(from, count).Select(k => encoded[items[k]]).ToList(),
                    Enumerable.Range(from, count).Select(k => (IReadOnlyList<RsaSignatureShare>)first.Select(a => a.Shares[k]).ToList()).ToList());
                for (int k = 0; k < count; k++) signatures[from + k] = combined[k];
            });
            // Nobody is blamed here: a failed combination says some share was wrong, not whose (that takes proofs).
            return new CombineOutcome(signatures, new Dictionary<int, HolderBlame>());
        }

        private CombineOutcome CombineProven(SigningRound round, List<Answer> answers)
        {
            var signatures = new byte[]?[round.Items.Count];
            var bad = new Dictionary<int, int>();
            for (int k = 0; k < round.Items.Count; k++)
            {
                IReadOnlyList<int> liars;
                try
                {
                    var result = ThresholdRsaCombiner.Combine(key.Key, encoded[round.Items[k]], answers.Select(a => a.Shares[k]).ToList());
                    signatures[k] = result.Signature;
                    liars = result.BadHolders;
                }
                catch (ThresholdSigningException e)
                {
                    liars = e.BadHolders;
                }
                foreach (var liar in liars) bad[liar] = bad.GetValueOrDefault(liar) + 1;
            }
            return new CombineOutcome(signatures, bad.ToDictionary(b => b.Key, b => new HolderBlame(b.Value, "bad signature share(s)")));
        }
    }
}

/// <summary>
/// Shoup RSA's share holder: each share one full-width exponentiation (plus two more for a proof, only when asked).
/// </summary>
public sealed class ShoupRsaHolder : IShareHolder
{
    private readonly RsaShareHolder _holder;

    /// <summary>The secret is copied into the holder; the caller disposes its own <paramref name="share"/>.</summary>
    public ShoupRsaHolder(ThresholdRsaPublicKey key, RsaKeyShare share)
    {
        Key = key;
        _holder = new RsaShareHolder(key, share);
    }

    public ThresholdRsaPublicKey Key { get; }
    public int Index => _holder.Index;

    /// <summary>
    /// Signs a random message with a proof and checks the proof against this holder's public verification key: a share
    /// that does not belong to the public key is refused before it is ever stored.
    /// </summary>
    public bool SelfCheck()
    {
        var em = new byte[Key.ModulusBytes];
        RandomNumberGenerator.Fill(em.AsSpan(2));
        em[1] = 1;
        var share = _holder.Sign(em, withProof: true);
        return ThresholdRsaCombiner.VerifyShare(Key, em, share);
    }

    public IHolderWork Preprocess(ReadOnlySpan<byte> request, int maxItems) =>
        throw new ThresholdRefusalException(RefusalReason.Invalid, "Shoup RSA has no preprocessing round");

    public IHolderWork Sign(ReadOnlySpan<byte> request, int maxItems)
    {
        var sign = RsaSignRequest.Decode(request, maxItems);
        for (int i = 0; i < sign.EncodedMessages.Count; i++)
            if (sign.EncodedMessages[i].Length != Key.ModulusBytes)
                throw new ThresholdRefusalException(RefusalReason.Invalid, $"item {i}: encoded message of {sign.EncodedMessages[i].Length} bytes, the modulus has {Key.ModulusBytes}");
        return new Work(_holder, sign);
    }

    public void Dispose() => _holder.Dispose();

    public override string ToString() => $"Shoup RSA share holder #{Index} (secret not shown)";

    private sealed class Work(RsaShareHolder holder, RsaSignRequest sign) : IHolderWork
    {
        private readonly RsaSignatureShare[] _shares = new RsaSignatureShare[sign.EncodedMessages.Count];

        public int Count => _shares.Length;
        public int ItemsPerTurn => 4; // one share is a full-width exponentiation: small turns keep other clients' waits short
        public ulong? SpendsBelow => null;

        public void Compute(int item)
        {
            try
            {
                _shares[item] = holder.Sign(sign.EncodedMessages[item], sign.WithProofs);
            }
            catch (ArgumentException e)
            {
                throw new ThresholdRefusalException(RefusalReason.Invalid, $"item {item}: {e.Message}");
            }
        }

        public byte[] Answer() => new RsaSignAnswer(_shares).Encode();

        public void Abandon()
        {
        }
    }
}
