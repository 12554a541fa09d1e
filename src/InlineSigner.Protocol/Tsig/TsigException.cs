using ARSoft.Tools.Net.Dns;

namespace InlineSigner.Protocol;

/// <summary>A TSIG signature did not verify, or the other side reported a TSIG error.</summary>
public sealed class TsigException : Exception
{
    public TsigException(string message, ReturnCode error, bool reportedByServer, DateTimeOffset? serverTime = null, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        ReportedByServer = reportedByServer;
        ServerTime = serverTime;
    }

    /// <summary>BADSIG, BADKEY, BADTIME, BADTRUNC, or FORMERR for a TSIG record that cannot be read.</summary>
    public ReturnCode Error { get; }

    /// <summary>True when the server sent this error in its TSIG record (it rejected our signature); false when we found
    /// the server's signature wrong.</summary>
    public bool ReportedByServer { get; }

    /// <summary>For BADTIME reported by the server: its clock, from the TSIG other data (RFC 8945 §5.2.3).</summary>
    public DateTimeOffset? ServerTime { get; }
}
