namespace InlineSigner.Threshold;

/// <summary>Untrusted bytes that are not a valid message of ours. The only exception our decoders throw.</summary>
public sealed class ThresholdFormatException(string message) : FormatException(message);

/// <summary>
/// A signature could not be made from the shares given. <see cref="BadHolders"/> names the share holders whose
/// shares were proven wrong (their proofs failed); the rest of the message says what was missing.
/// </summary>
public sealed class ThresholdSigningException(string message, IReadOnlyList<int> badHolders) : Exception(message)
{
    public IReadOnlyList<int> BadHolders { get; } = badHolders;
}
