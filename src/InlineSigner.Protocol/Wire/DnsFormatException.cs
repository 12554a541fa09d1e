namespace InlineSigner.Protocol;

/// <summary>Octets that are not a well-formed DNS message; the message says where and what.</summary>
public sealed class DnsFormatException : FormatException
{
    public DnsFormatException(string message) : base(message)
    {
    }

    public DnsFormatException(string message, Exception inner) : base(message, inner)
    {
    }
}
