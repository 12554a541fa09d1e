using System.Security.Cryptography;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Dnssec.Keys;

/// <summary>DS records (RFC 4034 §5, RFC 4509): digest over the owner name and the DNSKEY RDATA.</summary>
public static class DelegationSigner
{
    /// <summary>DS for <paramref name="key"/> with digest type 2 (SHA-256) or 4 (SHA-384).</summary>
    public static DnsRecordBase FromKey(DnsKeyRecord key, byte digestType)
    {
        var input = RecordWire.Name(key.Name, lowercase: true).Concat(RecordWire.RData(key)).ToArray();
        var digest = digestType switch
        {
            2 => SHA256.HashData(input),
            4 => SHA384.HashData(input),
            _ => throw new NotSupportedException($"DS digest type {digestType} is not supported"),
        };
        ushort tag = key.CalculateKeyTag();
        byte[] rdata = [(byte)(tag >> 8), (byte)tag, (byte)key.Algorithm, digestType, .. digest];
        return RecordWire.FromRData(key.Name, RecordType.Ds, key.RecordClass, key.TimeToLive, rdata);
    }
}
