using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>
/// Who may transfer a zone: clients whose address is in one of <see cref="Networks"/>, or whose request carries a
/// verified TSIG signature made with one of <see cref="KeyNames"/> (either suffices, as BIND's allow-transfer list of
/// addresses and keys). Everything else is refused.
/// </summary>
public sealed class TransferAcl
{
    public static readonly TransferAcl DenyAll = new([], []);

    public TransferAcl(IEnumerable<IPNetwork> networks, IEnumerable<DomainName> keyNames)
    {
        Networks = networks.ToArray();
        KeyNames = keyNames.ToHashSet(CanonicalNameComparer.Instance);
    }

    public IReadOnlyList<IPNetwork> Networks { get; }
    public IReadOnlySet<DomainName> KeyNames { get; }

    /// <summary>Parses prefixes such as "127.0.0.0/8", "::1/128" or a bare address (one host).</summary>
    /// <exception cref="FormatException">A prefix is not an address or address/length.</exception>
    public static TransferAcl Parse(IEnumerable<string> prefixes, IEnumerable<string>? keyNames = null) =>
        new(prefixes.Select(ParsePrefix), (keyNames ?? []).Select(DomainName.Parse));

    private static IPNetwork ParsePrefix(string text)
    {
        if (IPNetwork.TryParse(text, out var network)) return network;
        if (IPAddress.TryParse(text, out var address)) return new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        throw new FormatException($"'{text}' is not an IP prefix (expected ADDRESS or ADDRESS/LENGTH)");
    }

    /// <summary>True when <paramref name="client"/> may transfer: its address is allowed, or <paramref name="verifiedKey"/>
    /// (the key of a TSIG signature that verified, null when none) is.</summary>
    public bool Allows(IPAddress client, DomainName? verifiedKey)
    {
        if (verifiedKey is not null && KeyNames.Contains(verifiedKey)) return true;
        var address = client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;
        foreach (var network in Networks)
            if (network.Contains(address)) return true;
        return false;
    }
}

/// <summary>One change of a zone from one signed version to the next, as IXFR sends it (RFC 1995 §4): the records
/// deleted (exactly as they were served: same TTLs, same RRSIGs) and the records added.</summary>
public sealed record JournalDelta(SoaRecord From, IReadOnlyList<DnsRecordBase> Deleted, SoaRecord To, IReadOnlyList<DnsRecordBase> Added);

/// <summary>The IXFR journal of signed deltas, implemented by the daemon's store.</summary>
public interface IJournal
{
    /// <summary>The consecutive deltas taking <paramref name="zone"/> from serial <paramref name="fromSerial"/> to
    /// <paramref name="toSerial"/>, oldest first, or null when the journal does not cover that range.</summary>
    ValueTask<IReadOnlyList<JournalDelta>?> GetDeltasAsync(DomainName zone, uint fromSerial, uint toSerial, CancellationToken cancellationToken);
}

/// <summary>The result of checking a request's TSIG record (RFC 8945 §5.2).</summary>
/// <param name="KeyName">The key the request names.</param>
/// <param name="Error">NoError when the signature verified; else BADKEY, BADSIG, BADTIME or BADTRUNC, or FORMERR for a
/// TSIG record that cannot be read.</param>
/// <param name="Signer">Signs the response messages (chained over a multi-message transfer, RFC 8945 §5.3.1); after
/// BADKEY or BADSIG it adds the unsigned TSIG record that carries the error; null when the answer carries no TSIG
/// (FORMERR).</param>
public sealed record TsigCheck(DomainName KeyName, ReturnCode Error, ITsigResponseSigner? Signer)
{
    public bool Verified => Error == ReturnCode.NoError;
}

/// <summary>Signs the messages of one response stream with TSIG. One instance per request: it carries the MAC chain.</summary>
public interface ITsigResponseSigner
{
    /// <summary>The most octets <see cref="Sign"/> appends (the TSIG record), so that writers keep room for it.</summary>
    int MaxTsigLength { get; }

    /// <summary>Appends a TSIG record to the message in <paramref name="buffer"/>[0..<paramref name="length"/>) (and
    /// increments ARCOUNT); returns the new length.</summary>
    int Sign(byte[] buffer, int length);
}

/// <summary>Checks TSIG on transfer requests; the protocol assembly's TSIG implementation plugs in here.</summary>
public interface ITsigVerifier
{
    /// <summary>Checks the TSIG record of <paramref name="request"/>; null when the request is not signed.</summary>
    TsigCheck? Check(DnsRequest request);
}
