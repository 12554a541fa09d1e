using InlineSigner.Protocol;
using InlineSigner.Server.Configuration;

namespace InlineSigner.Server.Signing;

/// <summary>
/// The serial of the next signed version. Every new signed version must carry a serial newer than the last one
/// (RFC 1982), or secondaries never fetch it; the policies differ only in what they aim at.
/// </summary>
public static class SerialPolicy
{
    /// <summary>
    /// The signed serial for a new version made from an unsigned zone with serial <paramref name="unsignedSerial"/>,
    /// after the signed serial <paramref name="lastSigned"/> (null for the first version). <paramref name="kept"/>
    /// says whether <see cref="SerialPolicyKind.Keep"/> could be honoured; when it cannot (a refresh without an upstream
    /// change, or an upstream serial that did not move past ours), the serial steps by one and the caller logs it.
    /// </summary>
    public static uint Next(SerialPolicyKind kind, uint unsignedSerial, uint? lastSigned, DateTimeOffset now, out bool kept)
    {
        kept = true;
        uint target = kind switch
        {
            SerialPolicyKind.Keep or SerialPolicyKind.Increment => unsignedSerial,
            SerialPolicyKind.UnixTime => unchecked((uint)now.ToUnixTimeSeconds()),
            SerialPolicyKind.DateSerial => DateSerial(now),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        if (lastSigned is not { } last) return target;
        if (SerialNumber.IsNewer(target, last)) return target;
        if (kind == SerialPolicyKind.Keep) kept = false;
        return SerialNumber.Add(last, 1);
    }

    /// <summary>YYYYMMDD00 for the UTC date of <paramref name="now"/>.</summary>
    public static uint DateSerial(DateTimeOffset now)
    {
        var date = now.UtcDateTime;
        return (uint)(date.Year * 1_000_000 + date.Month * 10_000 + date.Day * 100);
    }
}
