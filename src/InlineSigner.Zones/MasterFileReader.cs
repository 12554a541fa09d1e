using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using InlineSigner.Zones.Text;

namespace InlineSigner.Zones;

/// <summary>The records of a master file, each with the place it came from, and the warnings met on the way.</summary>
public sealed class MasterFile
{
    internal MasterFile(IReadOnlyList<DnsRecordBase> records, IReadOnlyList<(string File, int Line)> origins, IReadOnlyList<ZoneWarning> warnings)
    {
        Records = records;
        Origins = origins;
        Warnings = warnings;
    }

    public IReadOnlyList<DnsRecordBase> Records { get; }

    /// <summary>File and line of each record, index for index with <see cref="Records"/> (for error messages).</summary>
    public IReadOnlyList<(string File, int Line)> Origins { get; }

    public IReadOnlyList<ZoneWarning> Warnings { get; }
}

/// <summary>
/// Reads RFC 1035 master files: <c>@</c>, <c>$ORIGIN</c>, <c>$TTL</c> (RFC 2308), <c>$INCLUDE</c> (relative to the
/// including file, with an optional origin), relative and absolute names, omitted owner/TTL/class (TTL and class in
/// either order), parentheses across lines, comments, quoted strings, <c>\X</c>/<c>\DDD</c> escapes, TTL units,
/// RFC 3597 generic RDATA and TYPEnnn/CLASSnnn. Written on ARSoft's record types instead of its parser, which
/// resolves <c>www CNAME @</c> to "@.origin", takes the previous record's TTL instead of <c>$TTL</c>, and fails on
/// "( base64 )" on one line.
/// <para>
/// Files are read as octets (ISO-8859-1), as BIND reads them, so text fields keep the file's bytes whatever its
/// encoding; <see cref="ReadString"/> takes its text as UTF-8. Both stream: one logical line is held at a time.
/// Every error is a <see cref="ZoneFileException"/> naming file, line and the offending token.
/// </para>
/// </summary>
public static class MasterFileReader
{
    private const int MaxIncludeDepth = 16;

    /// <summary>Reads a master file. <paramref name="origin"/> is the initial origin (usually the zone name; without it
    /// the file must set <c>$ORIGIN</c> before its first relative name); <paramref name="defaultTtl"/> applies until a
    /// <c>$TTL</c> line. <c>$INCLUDE</c> paths are relative to the including file.</summary>
    /// <exception cref="ZoneFileException">The file cannot be read or is not a valid master file.</exception>
    public static MasterFile ReadFile(string path, DomainName? origin = null, int? defaultTtl = null)
    {
        var state = new ReaderState(defaultTtl);
        ReadFileInto(state, path, origin, depth: 0);
        return state.Finish();
    }

    /// <summary>Reads master-file text held in memory (its non-ASCII characters are taken as UTF-8).
    /// <paramref name="sourceName"/> names it in errors; <c>$INCLUDE</c> paths are relative to the current directory.</summary>
    /// <exception cref="ZoneFileException">The text is not a valid master file.</exception>
    public static MasterFile ReadString(string text, DomainName origin, string sourceName = "<string>")
    {
        var state = new ReaderState(null);
        using var reader = new Text.Utf8OctetLineReader(text);
        ReadInto(state, reader, sourceName, directory: Directory.GetCurrentDirectory(), origin, depth: 0);
        return state.Finish();
    }

    private static void ReadFileInto(ReaderState state, string path, DomainName? origin, int depth)
    {
        StreamReader reader;
        try
        {
            var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Options = FileOptions.SequentialScan, BufferSize = 1 << 16 });
            reader = new StreamReader(stream, System.Text.Encoding.Latin1, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ZoneFileException(path, 0, $"cannot read the file: {e.Message}");
        }
        using (reader)
        {
            ReadInto(state, reader, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", origin, depth);
        }
    }

    private static void ReadInto(ReaderState state, TextReader reader, string source, string directory, DomainName? origin, int depth)
    {
        var tokenizer = new MasterFileTokenizer(reader, source);
        DomainName? currentOrigin = origin;
        foreach (var line in tokenizer.ReadLines())
        {
            try
            {
                var first = line.Tokens[0];
                if (!line.StartsWithBlank && !first.Quoted && first.Text.StartsWith('$'))
                {
                    currentOrigin = Directive(state, line, source, directory, currentOrigin, depth);
                    continue;
                }
                ReadRecord(state, line, source, currentOrigin);
            }
            catch (ZoneFileException)
            {
                throw;
            }
            catch (TokenFormatException e)
            {
                throw new ZoneFileException(source, e.Line, e.Message);
            }
            catch (FormatException e)
            {
                throw new ZoneFileException(source, line.Line, e.Message);
            }
        }
    }

    private static DomainName? Directive(ReaderState state, LogicalLine line, string source, string directory, DomainName? origin, int depth)
    {
        var tokens = line.Tokens;
        switch (tokens[0].Text.ToUpperInvariant())
        {
            case "$ORIGIN":
                if (tokens.Count != 2) throw new FormatException("$ORIGIN takes exactly one domain name");
                return PresentationFormat.ParseName(tokens[1].Text, origin);
            case "$TTL":
                if (tokens.Count != 2) throw new FormatException("$TTL takes exactly one TTL");
                if (!PresentationFormat.TryParsePeriod(tokens[1].Text, out var ttl) || ttl > int.MaxValue)
                    throw new FormatException($"$TTL '{tokens[1].Text}' is not a valid TTL");
                state.DefaultTtl = (int)ttl;
                return origin;
            case "$INCLUDE":
            {
                if (tokens.Count is < 2 or > 3) throw new FormatException("$INCLUDE takes a file name and an optional origin");
                if (depth >= MaxIncludeDepth) throw new FormatException($"$INCLUDE nested deeper than {MaxIncludeDepth} levels");
                var file = tokens[1].Text;
                var path = Path.IsPathRooted(file) ? file : Path.Combine(directory, file);
                if (!File.Exists(path)) throw new FormatException($"$INCLUDE {file}: cannot read the file {path} (not found)");
                var includeOrigin = tokens.Count == 3 ? PresentationFormat.ParseName(tokens[2].Text, origin) : origin;
                // The included file starts with the including file's owner context but its origin changes stay inside it (RFC 1035 §5.1).
                var savedOwner = state.LastOwner;
                ReadFileInto(state, path, includeOrigin, depth + 1);
                state.LastOwner = savedOwner;
                return origin;
            }
            case "$GENERATE":
                throw new FormatException("$GENERATE is not supported; expand it before loading");
            default:
                throw new FormatException($"unknown directive '{tokens[0].Text}'");
        }
    }

    private static void ReadRecord(ReaderState state, LogicalLine line, string source, DomainName? origin)
    {
        var tokens = line.Tokens;
        int p = 0;
        DomainName owner;
        if (line.StartsWithBlank)
        {
            owner = state.LastOwner ?? throw new FormatException("record without an owner name and no previous owner to inherit");
        }
        else
        {
            try { owner = PresentationFormat.ParseName(tokens[0].Text, origin); }
            catch (FormatException e) { throw new TokenFormatException(tokens[0].Line, $"owner: {e.Message}"); }
            p = 1;
        }

        int? ttl = null;
        RecordClass? recordClass = null;
        RecordType type = default;
        bool haveType = false;
        // TTL and class may come in either order before the type (RFC 1035 §5.1).
        for (int k = 0; k < 3 && p < tokens.Count && !haveType; k++, p++)
        {
            var token = tokens[p];
            var text = token.Text;
            if (token.Quoted) throw new TokenFormatException(token.Line, $"unexpected quoted string \"{text}\" before the record type");
            if (ttl is null && text.Length > 0 && char.IsAsciiDigit(text[0]))
            {
                if (!PresentationFormat.TryParsePeriod(text, out var seconds))
                    throw new TokenFormatException(token.Line, $"'{text}' is not a valid TTL (seconds, or units as in 1h30m)");
                // RFC 2181 §8: a TTL is 0 to 2^31-1; BIND refuses larger ones in master files too.
                if (seconds > int.MaxValue) throw new TokenFormatException(token.Line, $"TTL {text} is above 2147483647 (RFC 2181 §8)");
                ttl = (int)seconds;
                continue;
            }
            if (recordClass is null && PresentationFormat.TryParseClass(text, out var parsedClass))
            {
                recordClass = parsedClass;
                continue;
            }
            if (PresentationFormat.TryParseType(text, out type))
            {
                haveType = true;
                continue;
            }
            throw new TokenFormatException(token.Line, $"'{text}' is not a TTL, class or record type");
        }
        if (!haveType)
        {
            var last = tokens[Math.Min(p, tokens.Count - 1)];
            throw new TokenFormatException(last.Line, p >= tokens.Count ? "record has no type" : $"'{tokens[p].Text}' is not a record type");
        }

        var effectiveClass = recordClass ?? state.LastClass ?? RecordClass.INet;
        int effectiveTtl;
        if (ttl is { } explicitTtl)
        {
            effectiveTtl = explicitTtl;
            state.LastTtl = explicitTtl;
        }
        else if (state.DefaultTtl is { } defaultTtl)
        {
            effectiveTtl = defaultTtl;
        }
        else if (state.LastTtl is { } lastTtl)
        {
            effectiveTtl = lastTtl;
        }
        else if (type == RecordType.Soa)
        {
            effectiveTtl = -1; // resolved below from the SOA MINIMUM, as BIND does
        }
        else
        {
            throw new FormatException("record has no TTL and no $TTL is in effect");
        }

        var rdata = PresentationFormat.ParseRData(type, tokens, p, origin ?? throw new FormatException("no origin is known (use $ORIGIN or give the zone name)"));
        if (effectiveTtl < 0)
        {
            // SOA without any TTL: take MINIMUM (last 4 octets of its RDATA) and say so.
            effectiveTtl = (int)Math.Min(int.MaxValue, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(rdata.AsSpan(rdata.Length - 4)));
            state.LastTtl = effectiveTtl;
            state.Warnings.Add(new ZoneWarning(source, line.Line, $"SOA has no TTL and no $TTL is in effect; using its MINIMUM {effectiveTtl}"));
        }

        DnsRecordBase record;
        try
        {
            record = RecordWire.FromRData(owner, type, effectiveClass, effectiveTtl, rdata);
        }
        catch (FormatException e)
        {
            throw new FormatException($"invalid {PresentationFormat.FormatType(type)} data: {e.Message}");
        }
        state.LastOwner = owner;
        state.LastClass = effectiveClass;
        state.Records.Add(record);
        state.Origins.Add((source, line.Line));
    }

    /// <summary>What carries from one entry to the next, across $INCLUDE too (the origin does not: each file has its own).</summary>
    private sealed class ReaderState(int? defaultTtl)
    {
        public int? DefaultTtl { get; set; } = defaultTtl;
        public int? LastTtl { get; set; }
        public DomainName? LastOwner { get; set; }
        public RecordClass? LastClass { get; set; }
        public List<DnsRecordBase> Records { get; } = [];
        public List<(string File, int Line)> Origins { get; } = [];
        public List<ZoneWarning> Warnings { get; } = [];

        public MasterFile Finish() => new(Records, Origins, Warnings);
    }
}
