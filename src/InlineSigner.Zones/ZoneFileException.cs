namespace InlineSigner.Zones;

/// <summary>A master file (or zone content) error, always naming the file, the line and what is wrong.</summary>
public sealed class ZoneFileException : FormatException
{
    public ZoneFileException(string file, int line, string problem)
        : base(line > 0 ? $"{file}:{line}: {problem}" : $"{file}: {problem}")
    {
        File = file;
        Line = line;
        Problem = problem;
    }

    public string File { get; }

    /// <summary>1-based line number, or 0 when the problem is not tied to one line.</summary>
    public int Line { get; }

    /// <summary>The problem without the location.</summary>
    public string Problem { get; }
}

/// <summary>Something accepted but worth the operator's attention (e.g. an RFC 2181 TTL fix-up).</summary>
public sealed record ZoneWarning(string File, int Line, string Problem)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}: warning: {Problem}" : $"{File}: warning: {Problem}";
}
