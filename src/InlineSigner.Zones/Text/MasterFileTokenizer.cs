using System.Text;

namespace InlineSigner.Zones.Text;

/// <summary>One token of a master file. <see cref="Text"/> keeps backslash escapes as written (they are decoded by
/// the field that reads the token, because a name and a character-string decode them differently).</summary>
internal readonly record struct Token(string Text, bool Quoted, int Line);

/// <summary>One logical entry: the tokens of a physical line, or of several joined by parentheses.</summary>
internal sealed record LogicalLine(int Line, bool StartsWithBlank, IReadOnlyList<Token> Tokens);

/// <summary>
/// Splits an RFC 1035 §5.1 master file into logical lines: comments dropped, parentheses joining lines,
/// quoted strings kept whole, escapes left for the field parsers. Streams: it holds one logical line at a time.
/// The reader yields octet characters (ISO-8859-1), so every octet of the file reaches the field parsers unchanged.
/// </summary>
internal sealed class MasterFileTokenizer(TextReader reader, string source)
{
    private int _lineNumber;

    public IEnumerable<LogicalLine> ReadLines()
    {
        var tokens = new List<Token>();
        var current = new StringBuilder();
        int depth = 0;
        int openedAt = 0;
        int entryLine = 0;
        bool startsWithBlank = false;

        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            _lineNumber++;
            // A UTF-8 byte order mark, read as ISO-8859-1 octets, is no part of the zone.
            if (_lineNumber == 1 && line.StartsWith("\u00EF\u00BB\u00BF", StringComparison.Ordinal)) line = line[3..];
            if (depth == 0)
            {
                entryLine = _lineNumber;
                startsWithBlank = line.Length > 0 && (line[0] == ' ' || line[0] == '\t');
            }

            bool inQuotes = false;
            bool tokenQuoted = false;
            bool tokenStarted = false;
            int i = 0;
            while (i < line.Length)
            {
                char c = line[i];
                if (inQuotes)
                {
                    if (c == '\\' && i + 1 < line.Length)
                    {
                        current.Append(c).Append(line[i + 1]);
                        i += 2;
                        continue;
                    }
                    if (c == '"')
                    {
                        inQuotes = false;
                        i++;
                        // A quoted string is a token of its own ("a""b" is two); a quote inside a token (key="value")
                        // is kept for the field that reads it.
                        if (tokenQuoted) Flush();
                        else current.Append(c);
                        continue;
                    }
                    current.Append(c);
                    i++;
                    continue;
                }

                switch (c)
                {
                    case '\\':
                        if (i + 1 >= line.Length) throw Error(_lineNumber, "backslash at the end of a line");
                        current.Append(c).Append(line[i + 1]);
                        tokenStarted = true;
                        i += 2;
                        continue;
                    case '"':
                        if (!tokenStarted)
                        {
                            tokenQuoted = true;
                            tokenStarted = true;
                        }
                        else
                        {
                            current.Append(c);
                        }
                        inQuotes = true;
                        i++;
                        continue;
                    case ';':
                        i = line.Length; // comment to the end of the physical line
                        continue;
                    case '(':
                        Flush();
                        if (depth == 0) openedAt = _lineNumber;
                        depth++;
                        i++;
                        continue;
                    case ')':
                        Flush();
                        if (depth == 0) throw Error(_lineNumber, "')' without a matching '('");
                        depth--;
                        i++;
                        continue;
                    case ' ':
                    case '\t':
                    case '\r':
                        Flush();
                        i++;
                        continue;
                    default:
                        current.Append(c);
                        tokenStarted = true;
                        i++;
                        continue;
                }
            }
            if (inQuotes) throw Error(_lineNumber, "unterminated quoted string");
            Flush();

            if (depth == 0)
            {
                if (tokens.Count > 0) yield return new LogicalLine(entryLine, startsWithBlank, tokens.ToArray());
                tokens.Clear();
            }

            void Flush()
            {
                if (tokenStarted) tokens.Add(new Token(current.ToString(), tokenQuoted, _lineNumber));
                current.Clear();
                tokenStarted = false;
                tokenQuoted = false;
            }
        }
        if (depth > 0) throw Error(openedAt, "'(' not closed before the end of the file");
        if (tokens.Count > 0) yield return new LogicalLine(entryLine, startsWithBlank, tokens.ToArray());
    }

    private ZoneFileException Error(int line, string message) => new(source, line, message);
}

/// <summary>
/// Hands the lines of an in-memory master file to the tokenizer as octet characters (see
/// <see cref="PresentationFormat"/>): a line with non-ASCII text is encoded as UTF-8 and each octet becomes one char,
/// exactly as if the text had been saved as UTF-8 and read from a file. One line is converted at a time.
/// </summary>
internal sealed class Utf8OctetLineReader(string text) : TextReader
{
    private readonly StringReader _inner = new(text);

    public override string? ReadLine()
    {
        var line = _inner.ReadLine();
        if (line is null || System.Text.Ascii.IsValid(line)) return line;
        return Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(line));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}
