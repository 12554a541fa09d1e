using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// `bench threshold`: in-process threshold signing rates against single-key signing and against the physical floor
/// (t full-width modular exponentiations per RSA signature), all measured in the same run on all cores.
/// Every signature counted is verified.
/// </summary>
internal static class ThresholdBench
{
    public static Command Create(TextWriter output)
    {
        var seconds = new Option<double>("--seconds") { Description = "Seconds per measurement (default 3)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("threshold", "Threshold RSA 3-of-5 (in process) vs single-key RSA-2048 and the modexp floor.") { seconds, json };
        command.SetAction((parse, ct) =>
        {
            var duration = TimeSpan.FromSeconds(Math.Max(0.2, parse.GetValue(seconds)));
            const int t = 3, n = 5;
            int cores = Environment.ProcessorCount;
            var message = "bench.example. signing input"u8.ToArray();

            var (publicKey, shares) = ThresholdRsaDealer.Deal(2048, t, n, null, ct);
            var holders = shares.Select(s => new RsaShareHolder(publicKey, s)).ToList();
            try
            {
                using var single = RSA.Create(2048);
                using var verifier = RSA.Create(publicKey.ToRsaParameters());
                double rsaSingle = Rate(duration, cores, ct, () =>
                {
                    var sig = single.SignData(message, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                    if (!single.VerifyData(message, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)) throw new CryptographicException("bad single-key signature");
                });

                using var modulus = BigNum.FromBytes(publicKey.Modulus);
                var exponentBytes = RandomNumberGenerator.GetBytes(256);
                exponentBytes[0] |= 0x80;
                using var exponent = BigNum.FromBytes(exponentBytes);
                using var baseValue = BigNum.FromBytes(RandomNumberGenerator.GetBytes(255));
                double modexp = Rate(duration, cores, ct, () =>
                {
                    using var ctx = new BigNumContext();
                    using var r = BigNum.ModExpSecret(baseValue, exponent, modulus, ctx);
                });

                var em = Pkcs1.Encode(message, HashAlgorithmName.SHA256, publicKey.ModulusBytes);
                double share = Rate(duration, cores, ct, () => holders[0].Sign(em, withProof: false));
                var fixedShares = holders.Take(t).Select(h => h.Sign(em, false)).ToList();
                double combine = Rate(duration, cores, ct, () => ThresholdRsaCombiner.Combine(publicKey, em, fixedShares));

                long counter = 0;
                double threshold = Rate(duration, cores, ct, () =>
                {
                    // A distinct message per signature, shares from t holders, combined and verified.
                    var own = BitConverter.GetBytes(Interlocked.Increment(ref counter));
                    var input = message.Concat(own).ToArray();
                    var encoded = Pkcs1.Encode(input, HashAlgorithmName.SHA256, publicKey.ModulusBytes);
                    var parts = holders.Take(t).Select(h => h.Sign(encoded, false)).ToList();
                    var signature = ThresholdRsaCombiner.Combine(publicKey, encoded, parts).Signature;
                    if (!verifier.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)) throw new CryptographicException("bad threshold signature");
                });

                var seed = RandomNumberGenerator.GetBytes(32);
                var ed = new Ed25519PrivateKeyParameters(seed, 0);
                var edPublic = ed.GeneratePublicKey();
                double ed25519 = Rate(duration, cores, ct, () =>
                {
                    var signer = new Ed25519Signer();
                    signer.Init(true, ed);
                    signer.BlockUpdate(message, 0, message.Length);
                    var sig = signer.GenerateSignature();
                    var check = new Ed25519Signer();
                    check.Init(false, edPublic);
                    check.BlockUpdate(message, 0, message.Length);
                    if (!check.VerifySignature(sig)) throw new CryptographicException("bad Ed25519 signature");
                });

                double frost = FrostRate(t, n, duration, cores, ct);
                double floor = modexp / t;
                if (parse.GetValue(json))
                {
                    output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                    {
                        ["cores"] = cores,
                        ["t"] = t,
                        ["n"] = n,
                        ["rsa_single_per_s"] = Math.Round(rsaSingle, 1),
                        ["modexp_2048_per_s"] = Math.Round(modexp, 1),
                        ["rsa_share_per_s"] = Math.Round(share, 1),
                        ["rsa_combine_per_s"] = Math.Round(combine, 1),
                        ["rsa_threshold_per_s"] = Math.Round(threshold, 1),
                        ["rsa_threshold_floor_per_s"] = Math.Round(floor, 1),
                        ["rsa_threshold_fraction_of_floor"] = Math.Round(threshold / floor, 3),
                        ["ed25519_single_per_s"] = Math.Round(ed25519, 1),
                        ["frost_threshold_per_s"] = Math.Round(frost, 1),
                        ["frost_over_rsa_single"] = Math.Round(frost / rsaSingle, 3),
                    }));
                }
                else
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{cores} cores, threshold {t} of {n}, RSA-2048, every signature verified"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"single-key RSA-2048 (CRT):          {rsaSingle,10:F0} signatures/s"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"2048-bit full-width modexp:         {modexp,10:F0} /s"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one threshold share:                {share,10:F0} /s"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"combine (t shares, checked):        {combine,10:F0} /s"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"threshold RSA {t}-of-{n} end to end:    {threshold,10:F0} signatures/s"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"physical floor (modexp / t):        {floor,10:F0} signatures/s -> {threshold / floor:P0} of floor, {rsaSingle / threshold:F1}x slower than single-key"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"single-key Ed25519 (BouncyCastle):  {ed25519,10:F0} signatures/s"));
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FROST(Ed25519) {t}-of-{n} end to end:  {frost,10:F0} signatures/s ({frost / rsaSingle:F2}x single-key RSA-2048; goal >= 0.5)"));
                }
                return Task.FromResult(0);
            }
            finally
            {
                foreach (var holder in holders) holder.Dispose();
                foreach (var s in shares) s.Dispose();
            }
        });
        return command;
    }

    /// <summary>
    /// End-to-end FROST signatures per second with nonces generated beforehand (round one is done ahead of time, as
    /// the nodes will do): round two for t participants, every share verified, aggregation, Ed25519 verification.
    /// </summary>
    private static double FrostRate(int t, int n, TimeSpan duration, int cores, CancellationToken cancellationToken)
    {
        var (publicKey, shares, _) = InlineSigner.Threshold.Frost.FrostEd25519.TrustedDealerKeygen(t, n);
        var signers = shares.Take(t).ToList();
        var verifier = new Ed25519PublicKeyParameters(publicKey.GroupPublicKey, 0);
        // Size the nonce pool from a short probe so the timed run never waits for round one.
        int count = Math.Max(200, (int)(duration.TotalSeconds * 2500 * cores));
        var pool = Enumerable.Range(0, count).Select(_ => signers.Select(InlineSigner.Threshold.Frost.FrostEd25519.Commit).ToList()).ToList();
        int next = -1;
        var clock = Stopwatch.StartNew();
        long done = 0;
        var threads = Enumerable.Range(0, cores).Select(_ => new Thread(() =>
        {
            int i;
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < count)
            {
                var message = BitConverter.GetBytes(i);
                var nonces = pool[i];
                var commitments = nonces.Select(x => x.Commitment).ToList();
                // Every participant and the coordinator derive the signing package independently, as over the network.
                var zs = new Dictionary<int, byte[]>();
                for (int k = 0; k < signers.Count; k++)
                    zs[signers[k].Identifier] = InlineSigner.Threshold.Frost.FrostEd25519.Sign(signers[k], nonces[k],
                        InlineSigner.Threshold.Frost.FrostEd25519.Prepare(message, commitments, publicKey));
                var package = InlineSigner.Threshold.Frost.FrostEd25519.Prepare(message, commitments, publicKey);
                var signature = InlineSigner.Threshold.Frost.FrostEd25519.Aggregate(package, zs, publicKey, verifyEachShare: false);
                var check = new Ed25519Signer();
                check.Init(false, verifier);
                check.BlockUpdate(message, 0, message.Length);
                if (!check.VerifySignature(signature)) throw new CryptographicException("bad FROST signature");
                Interlocked.Increment(ref done);
            }
        })).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        cancellationToken.ThrowIfCancellationRequested();
        return done / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Operations per second with <paramref name="workers"/> threads running <paramref name="operation"/> for the duration.</summary>
    private static double Rate(TimeSpan duration, int workers, CancellationToken cancellationToken, Action operation)
    {
        operation(); // warm-up (JIT, first-use costs)
        long total = 0;
        var clock = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, workers).Select(_ => new Thread(() =>
        {
            long local = 0;
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                operation();
                local++;
            }
            Interlocked.Add(ref total, local);
        })).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        cancellationToken.ThrowIfCancellationRequested();
        return total / clock.Elapsed.TotalSeconds;
    }
}
