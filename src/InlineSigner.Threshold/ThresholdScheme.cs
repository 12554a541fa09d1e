namespace InlineSigner.Threshold;

// The shape every threshold scheme shares, so the cluster drives Shoup RSA, FROST and later schemes the same way.
//
// Rounds. Every scheme has a signing round: the coordinator sends each signer a request built from the signing
// inputs, each signer answers, the coordinator combines t answers into verified signatures or names the signers whose
// answers were wrong. Two optional rounds:
//   - preprocessing (FROST round one, presignatures): answered ahead of time, independent of the messages; each
//     preprocessed item is single-use and numbered, and a holder spends numbers only upwards. Its signing requests
//     carry the signers' preprocessed items, so they bind one fixed signer set: every chosen signer must answer.
//   - proofs on demand (Shoup RSA): without preprocessing every signer gets the same request and any t answers
//     combine, optimistically (the result is checked, not the shares). When that check fails, the signing round is
//     asked again with proofs, from every signer that can, and the proofs name the liar.
// Messages are the schemes' own compact encodings (type byte, version byte, big-endian fields); their decoders throw
// only ThresholdFormatException and check every count and length before allocating.

/// <summary>The public side of a threshold key, whatever its scheme.</summary>
public interface IThresholdPublicKey
{
    /// <summary>The DNSSEC algorithm number the signatures are for (8, 10, 15, …).</summary>
    byte Algorithm { get; }

    /// <summary>t: how many share holders make a signature.</summary>
    int Threshold { get; }

    /// <summary>n: how many share holders there are (numbered 1..n).</summary>
    int Parties { get; }

    /// <summary>The DNSKEY public key field (RFC 3110 form for RSA, the 32-byte key for Ed25519).</summary>
    byte[] DnsKeyPublicKey();

    /// <summary>Whether <paramref name="signature"/> is a valid signature on <paramref name="signingInput"/> (as the DNSSEC algorithm defines it).</summary>
    bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature);
}

/// <summary>
/// One preprocessed item from holder <see cref="Holder"/>, as the coordinator keeps it until a signing round spends
/// it. <see cref="Number"/> orders a holder's items: it spends them once each, in increasing order only.
/// </summary>
public abstract record PreprocessedItem(int Holder, ulong Number);

/// <summary>One holder's decoded answer to a signing round (each scheme has its own).</summary>
public abstract record SigningAnswer(int Holder);

/// <summary>
/// One signing round of a batch: the batch items it signs (indexes into the batch), and for schemes with
/// preprocessing the fixed signer set with, per signer, the preprocessed items it spends (one per item, in item
/// order). Without preprocessing <see cref="Signers"/> and <see cref="Preprocessed"/> are null: every holder gets the
/// same request and any t answers combine. <see cref="WithProofs"/> asks for proofs (schemes that have them).
/// </summary>
public sealed record SigningRound(
    IReadOnlyList<int> Items,
    IReadOnlyList<int>? Signers,
    IReadOnlyDictionary<int, IReadOnlyList<PreprocessedItem>>? Preprocessed,
    bool WithProofs);

/// <summary>A holder caught misbehaving: in how many items, and what it did (for logs and health: "3 bad signature share(s)").</summary>
public sealed record HolderBlame(int Count, string What);

/// <summary>
/// What a combination gave: per round item its signature, verified against the public key, or null; and the holders
/// shown to have misbehaved. A null signature with nobody blamed means the answers were not enough to tell (ask
/// again with proofs, or with other signers).
/// </summary>
public sealed record CombineOutcome(byte[]?[] Signatures, IReadOnlyDictionary<int, HolderBlame> Blamed);

/// <summary>The coordinator's side of a threshold key: builds each round's requests, reads the answers, combines.</summary>
public interface IThresholdCoordinator
{
    IThresholdPublicKey PublicKey { get; }

    /// <summary>Whether signing needs preprocessed items from each signer (and so binds a fixed signer set).</summary>
    bool HasPreprocessing { get; }

    /// <summary>Whether a signing round can be asked again with proofs that name a liar.</summary>
    bool HasProofs { get; }

    /// <summary>The preprocessing request for <paramref name="count"/> items (schemes with preprocessing only).</summary>
    byte[] PreprocessRequest(int count);

    /// <summary>Reads holder <paramref name="holder"/>'s answer to a preprocessing request for <paramref name="count"/> items.</summary>
    /// <exception cref="ThresholdFormatException">the answer is malformed or not <paramref name="count"/> items.</exception>
    IReadOnlyList<PreprocessedItem> ReadPreprocessAnswer(int holder, ReadOnlySpan<byte> answer, int count);

    /// <summary>
    /// The holders whose preprocessed items, as given, can never be signed with (for instance not group elements).
    /// Costly, so the coordinator calls it only when signers refused a round, to tell a liar from those refusing it.
    /// </summary>
    IReadOnlyDictionary<int, HolderBlame> CheckPreprocessed(IReadOnlyDictionary<int, IReadOnlyList<PreprocessedItem>> items);

    /// <summary>Prepares a batch of DNSSEC signing inputs (hashing and padding as the algorithm needs).</summary>
    ISigningBatch StartBatch(IReadOnlyList<ReadOnlyMemory<byte>> signingInputs);
}

/// <summary>A batch of signing inputs being signed: any number of rounds, each over some of its items.</summary>
public interface ISigningBatch
{
    int Count { get; }

    /// <summary>The request for holder <paramref name="holder"/> in <paramref name="round"/>.</summary>
    byte[] Request(SigningRound round, int holder);

    /// <summary>Reads and checks the form of holder <paramref name="holder"/>'s answer (one share per item, its own index).</summary>
    /// <exception cref="ThresholdFormatException">the answer is malformed, for other items, or not from that holder.</exception>
    SigningAnswer ReadAnswer(SigningRound round, int holder, ReadOnlySpan<byte> answer);

    /// <summary>
    /// Combines the answers to <paramref name="round"/>: for schemes with preprocessing every signer's, otherwise at
    /// least t (without proofs exactly the first t are used; with proofs every proven one counts).
    /// </summary>
    /// <exception cref="ThresholdSigningException">fewer answers than the round needs.</exception>
    CombineOutcome Combine(SigningRound round, IReadOnlyList<SigningAnswer> answers, CancellationToken cancellationToken);
}

/// <summary>
/// The share holder's side: answers preprocessing and signing requests with its secret share. It needs no DNSSEC
/// algorithm: the coordinator hashes and pads the signing inputs before they reach it.
/// </summary>
public interface IShareHolder : IDisposable
{
    /// <summary>This holder's number, 1..n.</summary>
    int Index { get; }

    /// <summary>Whether the share matches this holder's verification key in the public key (checked before a share is stored).</summary>
    bool SelfCheck();

    /// <summary>
    /// Starts answering a preprocessing request. Called in the order requests arrive (items are numbered here).
    /// </summary>
    /// <exception cref="ThresholdFormatException">the request is malformed or has more than <paramref name="maxItems"/> items.</exception>
    /// <exception cref="ThresholdRefusalException">the scheme has no preprocessing, or the request cannot be answered.</exception>
    IHolderWork Preprocess(ReadOnlySpan<byte> request, int maxItems);

    /// <summary>
    /// Starts answering a signing request. Called in the order requests arrive: single-use items it spends are
    /// reserved here, so two requests can never both spend one.
    /// </summary>
    /// <exception cref="ThresholdFormatException">the request is malformed or has more than <paramref name="maxItems"/> items.</exception>
    /// <exception cref="ThresholdRefusalException">the request is well-formed but cannot be answered.</exception>
    IHolderWork Sign(ReadOnlySpan<byte> request, int maxItems);
}

/// <summary>
/// A holder's answer in the making. <see cref="Compute"/> for every item (in any order, in parallel), then
/// <see cref="Answer"/> — but only once the single-use numbers below <see cref="SpendsBelow"/> are recorded as spent
/// where a restart will see them; or <see cref="Abandon"/> if any item failed.
/// </summary>
public interface IHolderWork
{
    int Count { get; }

    /// <summary>How many items make one fair turn on a worker (fewer when an item is expensive).</summary>
    int ItemsPerTurn { get; }

    /// <exception cref="ThresholdRefusalException">this item cannot be answered (the whole request is then refused).</exception>
    void Compute(int item);

    /// <summary>
    /// The answer spends single-use numbers below this: the host must make "numbers below this are spent" durable
    /// before the answer leaves (so a restart never spends one twice). Null: nothing single-use is spent.
    /// </summary>
    ulong? SpendsBelow { get; }

    /// <summary>The encoded answer, once every item is computed.</summary>
    byte[] Answer();

    /// <summary>The request failed: drops what it reserved (reserved numbers stay spent).</summary>
    void Abandon();
}

/// <summary>Why a holder refuses a well-formed request.</summary>
public enum RefusalReason
{
    /// <summary>The request is wrong: it cannot be answered as asked.</summary>
    Invalid,

    /// <summary>It names single-use items already spent or skipped (the coordinator's numbers are stale).</summary>
    Spent,
}

/// <summary>A share holder refuses a well-formed request; <see cref="Reason"/> tells the coordinator whether fresh preprocessing helps.</summary>
public sealed class ThresholdRefusalException(RefusalReason reason, string message) : Exception(message)
{
    public RefusalReason Reason { get; } = reason;
}
