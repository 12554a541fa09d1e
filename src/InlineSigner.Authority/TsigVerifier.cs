using ARSoft.Tools.Net;
using InlineSigner.Protocol;
using InlineSigner.Zones;

namespace InlineSigner.Authority;

/// <summary>
/// The TSIG seam filled with the protocol assembly's RFC 8945 implementation: checks a transfer request's signature
/// against the configured keys and signs every response message, chained over multi-message transfers.
/// </summary>
public sealed class TsigVerifier : ITsigVerifier
{
    private readonly Dictionary<DomainName, TsigKey> _keys = new(CanonicalNameComparer.Instance);
    private readonly TimeProvider _clock;

    /// <exception cref="ArgumentException">Two keys have the same name.</exception>
    public TsigVerifier(IEnumerable<TsigKey> keys, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            if (!_keys.TryAdd(key.Name, key))
                throw new ArgumentException($"two TSIG keys are named {key.Name}; key names must be unique", nameof(keys));
        }
        _clock = clock ?? TimeProvider.System;
    }

    public TsigCheck? Check(DnsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        // A copy: the listener's buffer is reused after the handler; requests are small.
        var wire = request.Wire.ToArray();
        var result = TsigServer.Verify(wire, wire.Length, _keys, _clock.GetUtcNow(), _clock);
        if (result is null) return null;
        return new TsigCheck(result.KeyName, result.Error, result.Signer is null ? null : new Signer(result.Signer));
    }

    private sealed class Signer(TsigResponseSigner signer) : ITsigResponseSigner
    {
        public int MaxTsigLength => signer.MaxTsigLength;
        public int Sign(byte[] buffer, int length) => signer.Sign(buffer, length);
    }
}
