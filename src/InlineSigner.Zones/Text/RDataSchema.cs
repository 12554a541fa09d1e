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
    /// <summary>A DNSSEC algorithm number (8 bits); the reader also takes BIND's mnemonics (RSASHA256…).</summary>
    Algorithm,
    Name,
    CharString,
    /// <summary>One or more character-strings up to the end (TXT, SPF).</summary>
    CharStrings,
    /// <summary>Hex up to the end, white space allowed inside; may be empty only where the type allows.</summary>
    HexRest,
    Base64Rest,
    /// <summary>One quoted string whose octets fill the rest of the RDATA without a length octet (URI target).</summary>
    QuotedRest,
    Ipv4,
    Ipv6,
    /// <summary>NSEC/NSEC3/CSYNC type bitmap (RFC 4034 §4.1.2) up to the end.</summary>
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
    /// <summary>EUI-48 address, six hex pairs joined by '-' (RFC 7043).</summary>
    Eui48,
    /// <summary>EUI-64 address, eight hex pairs joined by '-' (RFC 7043).</summary>
    Eui64,
    /// <summary>A 64-bit locator or node id written as four 16-bit hex groups joined by ':' (RFC 6742).</summary>
    Locator64,
    /// <summary>The whole LOC RDATA (RFC 1876 §3): version, size, precisions, latitude, longitude, altitude.</summary>
    Loc,
    /// <summary>CERT type (16 bits), written as a number or a mnemonic of RFC 4398 §2.1 (PKIX, PGP…).</summary>
    CertType,
    /// <summary>IPSECKEY gateway type, algorithm and gateway (RFC 4025 §2.3–2.5); the gateway's form depends on its type.</summary>
    IpSecKeyGateway,
}

/// <summary>
/// Field layouts of the record types whose presentation form we read and write ourselves. The same table drives
/// parsing (text → wire RDATA), printing (wire RDATA → text), validation of RFC 3597 input, and the canonical
/// lower-casing of embedded names, so what we write is what we read.
/// Types not listed are read and written in RFC 3597 generic form (<c>TYPEnnn \# len hex</c>).
/// </summary>
internal static class RDataSchema
{
    private static readonly Field[] DsLayout = [Field.U16, Field.Algorithm, Field.U8, Field.HexRest];
    private static readonly Field[] DnsKeyLayout = [Field.U16, Field.U8, Field.Algorithm, Field.Base64Rest];
    private static readonly Field[] RrSigLayout =
        [Field.TypeCode, Field.Algorithm, Field.U8, Field.U32, Field.Time, Field.Time, Field.U16, Field.Name, Field.Base64Rest];

    private static readonly Dictionary<RecordType, Field[]> Layouts = new()
    {
        [RecordType.A] = [Field.Ipv4],
        [RecordType.Ns] = [Field.Name],
        [(RecordType)3 /* MD, obsolete */] = [Field.Name],
        [(RecordType)4 /* MF, obsolete */] = [Field.Name],
        [RecordType.CName] = [Field.Name],
        [RecordType.Soa] = [Field.Name, Field.Name, Field.U32, Field.Period, Field.Period, Field.Period, Field.Period],
        [RecordType.Mb] = [Field.Name],
        [RecordType.Mg] = [Field.Name],
        [RecordType.Mr] = [Field.Name],
        [RecordType.Ptr] = [Field.Name],
        [RecordType.HInfo] = [Field.CharString, Field.CharString],
        [RecordType.MInfo] = [Field.Name, Field.Name],
        [RecordType.Mx] = [Field.U16, Field.Name],
        [RecordType.Txt] = [Field.CharStrings],
        [RecordType.Rp] = [Field.Name, Field.Name],
        [RecordType.Afsdb] = [Field.U16, Field.Name],
        [RecordType.X25] = [Field.CharString],
        [RecordType.Rt] = [Field.U16, Field.Name],
        [RecordType.Sig] = RrSigLayout,
        [RecordType.Key] = DnsKeyLayout,
        [RecordType.Aaaa] = [Field.Ipv6],
        [RecordType.Loc] = [Field.Loc],
        [RecordType.Srv] = [Field.U16, Field.U16, Field.U16, Field.Name],
        [RecordType.Naptr] = [Field.U16, Field.U16, Field.CharString, Field.CharString, Field.CharString, Field.Name],
        [RecordType.Kx] = [Field.U16, Field.Name],
        [RecordType.Cert] = [Field.CertType, Field.U16, Field.Algorithm, Field.Base64Rest],
        [RecordType.DName] = [Field.Name],
        [RecordType.Ds] = DsLayout,
        [RecordType.SshFp] = [Field.U8, Field.U8, Field.HexRest],
        [RecordType.IpSecKey] = [Field.U8, Field.IpSecKeyGateway, Field.Base64Rest],
        [RecordType.RrSig] = RrSigLayout,
        [RecordType.NSec] = [Field.Name, Field.TypeBitmap],
        [RecordType.DnsKey] = DnsKeyLayout,
        [RecordType.Dhcid] = [Field.Base64Rest],
        [RecordType.NSec3] = [Field.U8, Field.U8, Field.U16, Field.SaltHex, Field.Base32HexPrefixed, Field.TypeBitmap],
        [RecordType.NSec3Param] = [Field.U8, Field.U8, Field.U16, Field.SaltHex],
        [RecordType.Tlsa] = [Field.U8, Field.U8, Field.U8, Field.HexRest],
        [RecordType.SMimeA] = [Field.U8, Field.U8, Field.U8, Field.HexRest],
        [RecordType.CDs] = DsLayout,
        [RecordType.CDnsKey] = DnsKeyLayout,
        [RecordType.OpenPGPKey] = [Field.Base64Rest],
        [RecordType.CSync] = [Field.U32, Field.U16, Field.TypeBitmap],
        [RecordType.ZoneMD] = [Field.U32, Field.U8, Field.U8, Field.HexRest],
        [RecordType.SvcB] = [Field.U16, Field.Name, Field.SvcParams],
        [RecordType.Https] = [Field.U16, Field.Name, Field.SvcParams],
        [(RecordType)99 /* SPF, obsolete */] = [Field.CharStrings],
        [RecordType.NId] = [Field.U16, Field.Locator64],
        [RecordType.L32] = [Field.U16, Field.Ipv4],
        [RecordType.L64] = [Field.U16, Field.Locator64],
        [RecordType.LP] = [Field.U16, Field.Name],
        [RecordType.Eui48] = [Field.Eui48],
        [RecordType.Eui64] = [Field.Eui64],
        [RecordType.Uri] = [Field.U16, Field.U16, Field.QuotedRest],
        [RecordType.CAA] = [Field.U8, Field.CaaTagValue],
        [RecordType.Ta] = DsLayout,
        [(RecordType)32769 /* DLV, obsolete */] = DsLayout,
    };

    public static bool TryGet(RecordType type, out Field[] layout) => Layouts.TryGetValue(type, out layout!);

    public static bool Has(RecordType type) => Layouts.ContainsKey(type);

    /// <summary>
    /// Types whose trailing binary field may be empty: a KEY with the "no key" flag (RFC 2535 §3.1.2), an IPSECKEY
    /// without a public key (RFC 4025 §2.6) and an OPENPGPKEY (RFC 7929 puts no lower bound on it). Everywhere else an empty digest or key is a mistake.
    /// </summary>
    public static bool AllowsEmptyRest(RecordType type) => type is RecordType.OpenPGPKey or RecordType.Key or RecordType.IpSecKey;
}
