using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using InlineSigner.Threshold.OpenSsl;
using InlineSigner.Threshold.Rsa;

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
        var roundsOption = new Option<int>("--rounds") { Description = "Slices each measurement is split into, taken in turn with the others (default 5)", DefaultValueFactory = _ => 5 };
        var command = new Command("threshold", "Threshold RSA 3-of-5 (in process) vs single-key RSA-2048 and the modexp floor.") { seconds, json, roundsOption };
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
                using var modulus = BigNum.FromBytes(publicKey.Modulus);
                var exponentBytes = RandomNumberGenerator.GetBytes(256);
                exponentBytes[0] |= 0x80;
                using var exponent = BigNum.FromBytes(exponentBytes);
                using var baseValue = BigNum.FromBytes(RandomNumberGenerator.GetBytes(255));
                var em = Pkcs1.Encode(message, HashAlgorithmName.SHA256, publicKey.ModulusBytes);
                var fixedShares = holders.Take(t).Select(h => h.Sign(em, false)).ToList();

                // Every measurement runs in slices, round-robin, and its slices are summed: load from other processes
                // then weighs on the baselines and on the threshold figures alike instead of on whichever ran when it hit.
                var measurements = new Func<TimeSpan, ThresholdRates.Measurement>[]
                {
                    slice => ThresholdRates.SingleRsa(2048, slice, cores, ct),
                    slice => ThresholdRates.Rate(slice, cores, ct, () =>
                    {
                        using var ctx = new BigNumContext();
                        using var r = BigNum.ModExpSecret(baseValue, exponent, modulus, ctx);
                    }),
                    slice => ThresholdRates.Rate(slice, cores, ct, () => holders[0].Sign(em, withProof: false)),
                    slice => ThresholdRates.Rate(slice, cores, ct, () => ThresholdRsaCombiner.Combine(publicKey, em, fixedShares)),
                    slice => ThresholdRates.ThresholdRsa(publicKey, holders, slice, cores, ct),
                    slice => ThresholdRates.SingleEd25519(slice, cores, ct),
                    slice => ThresholdRates.Frost(t, n, slice, cores, ct),
                };
                int rounds = Math.Max(1, parse.GetValue(roundsOption));
                var parts = measurements.Select(_ => new List<ThresholdRates.Measurement>()).ToArray();
                for (int round = 0; round < rounds; round++)
                    for (int k = 0; k < measurements.Length; k++) parts[k].Add(measurements[k](duration / rounds));
                var rates = parts.Select(p => ThresholdRates.Measurement.Sum(p).PerSecond).ToArray();
                double rsaSingle = rates[0], modexp = rates[1], share = rates[2], combine = rates[3], threshold = rates[4], ed25519 = rates[5], frost = rates[6];
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
}
