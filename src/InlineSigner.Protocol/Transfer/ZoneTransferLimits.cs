namespace InlineSigner.Protocol;

/// <summary>
/// Bounds on what a primary may make us receive, so a hostile or broken one cannot make us allocate without end. The
/// defaults fit the largest zones a signer reasonably serves (a TLD of a few million delegations with DS and glue).
/// </summary>
public sealed record ZoneTransferLimits
{
    public static ZoneTransferLimits Default { get; } = new();

    /// <summary>Most records one transfer may carry (every SOA counted). Default 10 million.</summary>
    public long MaxRecords { get; init; } = 10_000_000;

    /// <summary>Most octets one transfer may carry (messages without their length prefixes). Default 4 GiB.</summary>
    public long MaxBytes { get; init; } = 4L << 30;

    /// <summary>Longest a whole transfer may take, however steadily the primary sends (the per-call timeout bounds each
    /// wait; this bounds a primary that drips). Default one hour.</summary>
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromHours(1);
}
