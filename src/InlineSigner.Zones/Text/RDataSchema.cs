using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Zones.Text;

/// <summary>The presentation/wire shape of one RDATA field.</summary>
internal enum Field
{
    U8,
    U16,
    U32,
    /// <summary>A 32-bit period that may be written with units (1h30m), as in SOA timers.</summary>
    Period,
    Name,
    CharString,
    /// <summary>One or more character-strings up to the end (TXT, SPF).</summary>
    CharStrings,
    /// <summary>Hex up to the end, white space allowed inside; may be empty only where the type allows.</summary>
    HexRest,
    Base64Rest,
    Ipv4,
    Ipv6,
    /// <summary>NSEC/NSEC3 type bitmap (RFC 4034 §4.1.2) up to the end.</summary>
    TypeBitmap,
    /// <summary>A type mnemonic stored as 16 bits (RRSIG type covered).</summary>
    TypeCode,
    /// <summary>RRSIG time: YYYYMMDDHHmmSS or seconds since the epoch.</summary>
    Time,
    /// <summary>A length-prefixed hex string written as "-" when empty (NSEC3 salt).</summary>
    SaltHex,
    /// <summary>A length-prefixed base32hex string (NSEC3 next hashed owner).</summary>
    Base32HexPrefixed,
    /// <summary>CAA tag (unprefixed length octet + tag) followed by the value to the end.</summary>
    CaaTagValue,
    /// <summary>SVCB/HTTPS SvcParams (RFC 9460) up to the end.</summary>
    SvcParams,
}

/// <summary>
/// Field layouts of the record types whose presentation form we read and write ourselves. The same table drives
/// parsing (text → wire RDATA) and printing (wire RDATA → text), so what we write is what we read.
/// Types not listed are read and written in RFC 3597 generic form (<c>\# len hex</c>).
/// </summary>
internal static class RDataSchema
{
    private static readonly Dictionary<RecordType, Field[]> Layouts = new()
    {
        [RecordType.A] = [Field.Ipv4],
        [RecordType.Aaaa] = [Field.Ipv6],
        [RecordType.Ns] = [Field.Name],
        [RecordType.CName] = [Field.Name],
        [RecordType.DName] = [Field.Name],
        [RecordType.Ptr] = [Field.Name],
        [RecordType.Soa] = [Field.Name, Field.Name, Field.U32, Field.Period, Field.Period, Field.Period, Field.Period],
        [RecordType.Mx] = [Field.U16, Field.Name],
        [RecordType.Kx] = [Field.U16, Field.Name],
        [RecordType.Rt] = [Field.U16, Field.Name],
        [RecordType.Afsdb] = [Field.U16, Field.Name],
        [RecordType.Rp] = [Field.Name, Field.Name],
        [RecordType.MInfo] = [Field.Name, Field.Name],
        [RecordType.Txt] = [Field.CharStrings],
        [(RecordType)99 /* SPF */] = [Field.CharStrings],
        [RecordType.HInfo] = [Field.CharString, Field.CharString],
        [RecordType.Srv] = [Field.U16, Field.U16, Field.U16, Field.Name],
        [RecordType.Naptr] = [Field.U16, Field.U16, Field.CharString, Field.CharString, Field.CharString, Field.Name],
        [RecordType.CAA] = [Field.U8, Field.CaaTagValue],
        [RecordType.SshFp] = [Field.U8, Field.U8, Field.HexRest],
        [RecordType.Tlsa] = [Field.U8, Field.U8, Field.U8, Field.HexRest],
        [RecordType.SMimeA] = [Field.U8, Field.U8, Field.U8, Field.HexRest],
        [RecordType.Ds] = [Field.U16, Field.U8, Field.U8, Field.HexRest],
        [RecordType.CDs] = [Field.U16, Field.U8, Field.U8, Field.HexRest],
        [RecordType.DnsKey] = [Field.U16, Field.U8, Field.U8, Field.Base64Rest],
        [RecordType.CDnsKey] = [Field.U16, Field.U8, Field.U8, Field.Base64Rest],
        [RecordType.RrSig] = [Field.TypeCode, Field.U8, Field.U8, Field.U32, Field.Time, Field.Time, Field.U16, Field.Name, Field.Base64Rest],
        [RecordType.NSec] = [Field.Name, Field.TypeBitmap],
        [RecordType.NSec3] = [Field.U8, Field.U8, Field.U16, Field.SaltHex, Field.Base32HexPrefixed, Field.TypeBitmap],
        [RecordType.NSec3Param] = [Field.U8, Field.U8, Field.U16, Field.SaltHex],
        [RecordType.ZoneMD] = [Field.U32, Field.U8, Field.U8, Field.HexRest],
        [RecordType.SvcB] = [Field.U16, Field.Name, Field.SvcParams],
        [RecordType.Https] = [Field.U16, Field.Name, Field.SvcParams],
        [RecordType.OpenPGPKey] = [Field.Base64Rest],
        [RecordType.Dhcid] = [Field.Base64Rest],
    };

    public static bool TryGet(RecordType type, out Field[] layout) => Layouts.TryGetValue(type, out layout!);

    /// <summary>Types whose trailing hex/base64 field may be empty (e.g. a CDS delete record has a digest).</summary>
    public static bool AllowsEmptyRest(RecordType type) => type is RecordType.OpenPGPKey;
}
