using System.CommandLine;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Dnssec.Keys;
using InlineSigner.Zones;
using InlineSigner.Zones.Text;

namespace InlineSigner.Cli.Commands;

/// <summary>`inline-signer keys …`: key generation and listing.</summary>
internal static class KeysCommands
{
    public static Command Create(TextWriter output)
    {
        var keys = new Command("keys", "Generate and list DNSSEC keys.");
        keys.Add(Generate(output));
        keys.Add(List(output));
        return keys;
    }

    private static Command Generate(TextWriter output)
    {
        var zone = new Option<string>("--zone", "-z") { Description = "Zone name", Required = true };
        var algorithm = new Option<string>("--algorithm", "-a") { Description = "RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519 (or the number)", Required = true };
        var ksk = new Option<bool>("--ksk") { Description = "Key-signing key (flags 257); default zone-signing key (256)" };
        var bits = new Option<int>("--bits") { Description = "RSA modulus size (default 2048)", DefaultValueFactory = _ => 2048 };
        var dir = new Option<DirectoryInfo>("--dir", "-K") { Description = "Directory for the BIND-format key files", Required = true };
        var ttl = new Option<int>("--ttl") { Description = "DNSKEY TTL (default 3600)", DefaultValueFactory = _ => 3600 };
        var command = new Command("generate", "Generate a local key pair in BIND's K<zone>+<alg>+<tag>.key/.private format.") { zone, algorithm, ksk, bits, dir, ttl };
        command.SetAction(parse =>
        {
            var origin = ZoneCommands.ParseZone(parse.GetRequiredValue(zone));
            DnsSecAlgorithm alg;
            try { alg = DnssecAlgorithms.Parse(parse.GetRequiredValue(algorithm)); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            using var key = LocalKey.Generate(origin, alg, parse.GetValue(ksk), parse.GetValue(bits), parse.GetValue(ttl));
            var basePath = BindKeyFile.Write(key, parse.GetRequiredValue(dir).FullName);
            output.WriteLine($"{Path.GetFileName(basePath)} key tag {key.KeyTag} {(key.IsKsk ? "KSK" : "ZSK")} {DnssecAlgorithms.Mnemonic(alg)}");
            output.WriteLine(MasterFileWriter.FormatRecord(key.DnsKey));
            if (key.IsKsk) output.WriteLine(MasterFileWriter.FormatRecord(DelegationSigner.FromKey(key.DnsKey, 2)));
            return 0;
        });
        return command;
    }

    private static Command List(TextWriter output)
    {
        var zone = new Option<string>("--zone", "-z") { Description = "Zone name", Required = true };
        var dir = new Option<DirectoryInfo>("--dir", "-K") { Description = "Directory with the BIND-format key files", Required = true };
        var command = new Command("list", "List the local keys of a zone.") { zone, dir };
        command.SetAction(parse =>
        {
            var origin = ZoneCommands.ParseZone(parse.GetRequiredValue(zone));
            var keys = KeyDirectory.Load(parse.GetRequiredValue(dir).FullName, origin);
            foreach (var key in keys)
            {
                output.WriteLine($"{key.KeyTag}\t{DnssecAlgorithms.Mnemonic(key.Algorithm)}\t{(key.IsKsk ? "KSK" : "ZSK")}\t{PresentationFormat.FormatName(key.Zone)}");
                key.Dispose();
            }
            return 0;
        });
        return command;
    }
}
