using System.Diagnostics;
using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Threshold.Frost;
using InlineSigner.Threshold.Rsa;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// The in-process signing rates `bench threshold` reports and `bench cluster` compares the networked cluster with:
/// single-key baselines and end-to-end threshold signatures computed by every party inside this process, on all
/// cores. Every signature counted is verified.
/// </summary>
internal static class ThresholdRates
{
    /// <summary>Operations done in a measured time, and the processor time this process spent meanwhile.</summary>
    public sealed record Measurement(long Operations, double Seconds, double CpuMs)
    {
        public double PerSecond => Operations / Seconds;
        public double CpuMsPerOperation => CpuMs / Math.Max(1, Operations);

        /// <summary>Several measurements of the same thing as one.</summary>
        public static Measurement Sum(IEnumerable<Measurement> parts) =>
            parts.Aggregate(new Measurement(0, 0, 0), (a, b) => new Measurement(a.Operations + b.Operations, a.Seconds + b.Seconds, a.CpuMs + b.CpuMs));
    }

    private static readonly byte[] Message = "bench.example. signing input"u8.ToArray();

    /// <summary>Single-key RSA signing with CRT (System.Security.Cryptography), each signature verified.</summary>
    public static Measurement SingleRsa(int bits, TimeSpan duration, int cores, CancellationToken cancellationToken)
    {
        using var single = RSA.Create(bits);
        return Rate(duration, cores, cancellationToken, () =>
        {
            var sig = single.SignData(Message, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            if (!single.VerifyData(Message, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)) throw new CryptographicException("bad single-key signature");
        });
    }

    /// <summary>Single-key Ed25519 (BouncyCastle), each signature verified.</summary>
    public static Measurement SingleEd25519(TimeSpan duration, int cores, CancellationToken cancellationToken)
    {
        var ed = new Ed25519PrivateKeyParameters(RandomNumberGenerator.GetBytes(32), 0);
        var edPublic = ed.GeneratePublicKey();
        return Rate(duration, cores, cancellationToken, () =>
        {
            var signer = new Ed25519Signer();
            signer.Init(true, ed);
            signer.BlockUpdate(Message, 0, Message.Length);
            var sig = signer.GenerateSignature();
            var check = new Ed25519Signer();
            check.Init(false, edPublic);
            check.BlockUpdate(Message, 0, Message.Length);
            if (!check.VerifySignature(sig)) throw new CryptographicException("bad Ed25519 signature");
        });
    }

    /// <summary>
    /// End-to-end threshold RSA signatures: a distinct message each, shares from the first t holders, combined in
    /// batches of <see cref="RsaCombineBatch"/> as the cluster client does (checked with y^e = x) and verified again
    /// with .NET's RSA verify.
    /// </summary>
    public static Measurement ThresholdRsa(ThresholdRsaPublicKey publicKey, IReadOnlyList<RsaShareHolder> holders, TimeSpan duration, int cores, CancellationToken cancellationToken)
    {
        using var verifier = RSA.Create(publicKey.ToRsaParameters());
        long counter = 0;
        return Rate(duration, cores, cancellationToken, () =>
        {
            var inputs = new byte[RsaCombineBatch][];
            var encoded = new byte[RsaCombineBatch][];
            var parts = new IReadOnlyList<RsaSignatureShare>[RsaCombineBatch];
            for (int i = 0; i < RsaCombineBatch; i++)
            {
                inputs[i] = Message.Concat(BitConverter.GetBytes(Interlocked.Increment(ref counter))).ToArray();
                encoded[i] = Pkcs1.Encode(inputs[i], HashAlgorithmName.SHA256, publicKey.ModulusBytes);
                parts[i] = holders.Take(publicKey.Threshold).Select(h => h.Sign(encoded[i], false)).ToList();
            }
            var signatures = ThresholdRsaCombiner.CombineOptimistic(publicKey, encoded, parts);
            for (int i = 0; i < RsaCombineBatch; i++)
                if (signatures[i] is not { } signature || !verifier.VerifyData(inputs[i], signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
                    throw new CryptographicException("bad threshold signature");
            return RsaCombineBatch;
        });
    }

    /// <summary>Messages combined together in the in-process RSA rate (one modular inversion for all of them).</summary>
    public const int RsaCombineBatch = 8;

    /// <summary>
    /// End-to-end FROST signatures per second with nonces generated beforehand (round one is done ahead of time, as
    /// the nodes do): round two for t participants, aggregation checked as Ed25519 (libsodium). With
    /// <paramref name="engineCheck"/> every signature is verified again with the signing engine's own verifier
    /// (<see cref="SignatureCheck"/>, BouncyCastle), as `bench cluster`'s cluster side does, so the two sides of that
    /// comparison do the same work; without it a sample is, after the timed run. With <paramref name="roundOneTimed"/>
    /// the participants make each signature's nonces inside the timed run, as nodes under sustained load refill their
    /// commitment pools while they sign (`bench cluster`); without it round one is done before the clock starts, as
    /// issue 3 defines the figure.
    /// </summary>
    public static Measurement Frost(int t, int n, TimeSpan duration, int cores, CancellationToken cancellationToken, bool engineCheck = false, bool roundOneTimed = false)
    {
        var (publicKey, shares, _) = FrostEd25519.TrustedDealerKeygen(t, n);
        var signers = shares.Take(t).ToList();
        // More nonce sets than the run can use, so the timed run never waits for round one.
        int count = roundOneTimed ? int.MaxValue : Math.Max(200, (int)(duration.TotalSeconds * 2500 * cores));
        List<List<FrostNonce>> pool = roundOneTimed ? [] : Enumerable.Range(0, count).Select(_ => signers.Select(FrostEd25519.Commit).ToList()).ToList();
        int next = -1;
        var sample = new System.Collections.Concurrent.ConcurrentBag<(byte[] Message, byte[] Signature)>();
        var cpu = CpuClock.Start();
        var clock = Stopwatch.StartNew();
        long done = 0;
        var threads = Enumerable.Range(0, cores).Select(_ => new Thread(() =>
        {
            int i;
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < count)
            {
                var message = BitConverter.GetBytes(i);
                var nonces = roundOneTimed ? signers.Select(FrostEd25519.Commit).ToList() : pool[i];
                var commitments = nonces.Select(x => x.Commitment).ToList();
                // Every participant derives the signing package independently, as over the network, and reports its R
                // with its share; the coordinator aggregates with additions and one verification, as the cluster client does.
                var zs = new Dictionary<int, byte[]>();
                byte[]? groupCommitment = null;
                for (int k = 0; k < signers.Count; k++)
                {
                    var own = FrostEd25519.Prepare(message, commitments, publicKey, nonces[k]);
                    zs[signers[k].Identifier] = FrostEd25519.Sign(signers[k], nonces[k], own);
                    if (groupCommitment is not null && !groupCommitment.AsSpan().SequenceEqual(own.GroupCommitment)) throw new CryptographicException("participants derived different R");
                    groupCommitment = own.GroupCommitment;
                }
                // CombineVerified verifies (libsodium) as the coordinator must. The engine's verifier (BouncyCastle)
                // checks each signature again with engineCheck, as the cluster side does; otherwise it checks a sample
                // after the timed run, an independent RFC 8032 check that costs the rate nothing.
                var signature = FrostEd25519.CombineVerified(groupCommitment, zs.Values, message, publicKey) ?? throw new CryptographicException("FROST aggregate does not verify");
                if (engineCheck)
                {
                    if (!SignatureCheck.Verify(DnsSecAlgorithm.Ed25519, publicKey.GroupPublicKey, message, signature)) throw new CryptographicException("bad FROST signature");
                }
                else if (i % 64 == 0) sample.Add((message, signature));
                if (roundOneTimed) foreach (var nonce in nonces) nonce.Dispose();
                Interlocked.Increment(ref done);
            }
        })).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        var result = new Measurement(done, clock.Elapsed.TotalSeconds, cpu.ElapsedMs);
        foreach (var (message, signature) in sample)
            if (!SignatureCheck.Verify(DnsSecAlgorithm.Ed25519, publicKey.GroupPublicKey, message, signature))
                throw new CryptographicException("a FROST signature libsodium accepted does not verify with BouncyCastle");
        foreach (var set in pool) foreach (var nonce in set) nonce.Dispose();
        foreach (var share in shares) share.Dispose();
        cancellationToken.ThrowIfCancellationRequested();
        return result;
    }

    /// <summary>Operations per second with <paramref name="workers"/> threads running <paramref name="operation"/> for the duration.</summary>
    public static Measurement Rate(TimeSpan duration, int workers, CancellationToken cancellationToken, Action operation) =>
        Rate(duration, workers, cancellationToken, () =>
        {
            operation();
            return 1;
        });

    /// <summary>As <see cref="Rate(TimeSpan, int, CancellationToken, Action)"/>, for an operation that does several (it returns how many).</summary>
    public static Measurement Rate(TimeSpan duration, int workers, CancellationToken cancellationToken, Func<int> operation)
    {
        operation(); // warm-up (JIT, first-use costs)
        long total = 0;
        var cpu = CpuClock.Start();
        var clock = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, workers).Select(_ => new Thread(() =>
        {
            long local = 0;
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                local += operation();
            }
            Interlocked.Add(ref total, local);
        })).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        cancellationToken.ThrowIfCancellationRequested();
        return new Measurement(total, clock.Elapsed.TotalSeconds, cpu.ElapsedMs);
    }
}

/// <summary>
/// Processor time (user + system) of this process, or of other processes (the cluster's nodes), since
/// <see cref="Start"/>: what a measurement cost, whatever else the machine was doing meanwhile.
/// </summary>
internal sealed class CpuClock
{
    private readonly IReadOnlyList<Process>? _others;
    private readonly TimeSpan _start;

    private CpuClock(IReadOnlyList<Process>? others)
    {
        _others = others;
        _start = Now();
    }

    /// <summary>This process's time.</summary>
    public static CpuClock Start() => new(null);

    /// <summary>The time of <paramref name="processes"/> (not this one).</summary>
    public static CpuClock Start(IReadOnlyList<Process> processes) => new(processes);

    public double ElapsedMs => (Now() - _start).TotalMilliseconds;

    private TimeSpan Now()
    {
        if (_others is null)
        {
            using var self = Process.GetCurrentProcess();
            return self.TotalProcessorTime;
        }
        var total = TimeSpan.Zero;
        foreach (var process in _others)
        {
            try
            {
                process.Refresh();
                total += process.TotalProcessorTime;
            }
            catch (InvalidOperationException) { } // exited: its time is no longer readable
        }
        return total;
    }
}
