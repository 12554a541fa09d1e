namespace InlineSigner.Protocol;

/// <summary>How two zone serials relate under RFC 1982 serial number arithmetic (SERIAL_BITS = 32).</summary>
public enum SerialOrder
{
    /// <summary>The first serial is older than the second.</summary>
    Before,

    /// <summary>The serials are equal.</summary>
    Same,

    /// <summary>The first serial is newer than the second.</summary>
    After,

    /// <summary>The serials are exactly 2^31 apart, where RFC 1982 §3.2 leaves the order undefined.</summary>
    Undefined,
}

/// <summary>
/// RFC 1982 serial number arithmetic for SOA serials. Serials wrap around at 2^32, so "newer" means "ahead by less than
/// 2^31", and a pair exactly 2^31 apart has no order at all; callers must decide what that means for them (a secondary
/// treats it as "not newer", so it never moves to a version it cannot place).
/// </summary>
public static class SerialNumber
{
    private const uint Half = 1u << 31;

    public static SerialOrder Compare(uint a, uint b)
    {
        if (a == b) return SerialOrder.Same;
        uint ahead = unchecked(a - b);
        if (ahead == Half) return SerialOrder.Undefined;
        return ahead < Half ? SerialOrder.After : SerialOrder.Before;
    }

    /// <summary>True when <paramref name="a"/> is newer than <paramref name="b"/>; false when older, equal or undefined.</summary>
    public static bool IsNewer(uint a, uint b) => Compare(a, b) == SerialOrder.After;

    /// <summary>
    /// RFC 1982 §3.1 addition: <paramref name="serial"/> + <paramref name="increment"/> modulo 2^32, where the increment must
    /// be in [0, 2^31 − 1] so that the result is newer (or the same).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The increment is 2^31 or more.</exception>
    public static uint Add(uint serial, uint increment)
    {
        if (increment >= Half)
            throw new ArgumentOutOfRangeException(nameof(increment), increment, "RFC 1982 allows adding at most 2^31 - 1 to a serial");
        return unchecked(serial + increment);
    }
}
