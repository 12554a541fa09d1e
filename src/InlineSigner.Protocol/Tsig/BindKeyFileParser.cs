using System.Text;

namespace InlineSigner.Protocol;

/// <summary>
/// Reads the <c>key</c> statements of BIND's configuration grammar: <c>key NAME { algorithm ALG; secret "BASE64"; };</c>,
/// names and values quoted or not, with <c>#</c>, <c>//</c> and <c>/* */</c> comments. Nothing else is accepted, so a
/// file that is not a key file fails here instead of yielding no keys.
/// </summary>
internal static class BindKeyFileParser
{
    private readonly record struct Token(string Text, bool Quoted, int Line);

    public static IReadOnlyList<TsigKey> Parse(string text)
    {
        var tokens = Tokenize(text);
        var keys = new List<TsigKey>();
        try
        {
            int i = 0;
            while (i < tokens.Count)
            {
                var keyword = tokens[i];
                if (keyword.Quoted || !keyword.Text.Equals("key", StringComparison.OrdinalIgnoreCase))
                    throw new TsigKeyFormatException($"line {keyword.Line}: expected a 'key' statement, found '{keyword.Text}'");
                var name = Next(tokens, ref i, "a key name after 'key'", keyword.Line);
                Expect(tokens, ref i, "{", $"'{{' after key {name.Text}", name.Line);
                string? algorithm = null, secret = null;
                while (true)
                {
                    var field = Next(tokens, ref i, $"'}}' closing key {name.Text}", name.Line);
                    if (field.Text == "}" && !field.Quoted) break;
                    var value = Next(tokens, ref i, $"a value for '{field.Text}' in key {name.Text}", field.Line);
                    Expect(tokens, ref i, ";", $"';' after {field.Text} in key {name.Text}", value.Line);
                    switch (field.Text.ToLowerInvariant())
                    {
                        case "algorithm" when algorithm is null:
                            algorithm = value.Text;
                            break;
                        case "secret" when secret is null:
                            secret = value.Text;
                            break;
                        case "algorithm" or "secret":
                            throw new TsigKeyFormatException($"line {field.Line}: key {name.Text} has a second '{field.Text}'");
                        default:
                            throw new TsigKeyFormatException($"line {field.Line}: key {name.Text} has an unknown field '{field.Text}' (expected algorithm or secret)");
                    }
                }
                Expect(tokens, ref i, ";", $"';' after the closing '}}' of key {name.Text}", name.Line);
                if (algorithm is null) throw new TsigKeyFormatException($"line {name.Line}: key {name.Text} has no algorithm");
                if (secret is null) throw new TsigKeyFormatException($"line {name.Line}: key {name.Text} has no secret");
                keys.Add(TsigKey.Create(name.Text, algorithm, secret, $"line {name.Line}"));
                i++;
            }
        }
        catch
        {
            foreach (var key in keys) key.Dispose();
            throw;
        }
        if (keys.Count == 0) throw new TsigKeyFormatException("no key statement found");
        return keys;
    }

    /// <summary>Moves to the next token (i ends on it).</summary>
    private static Token Next(List<Token> tokens, ref int i, string expected, int line)
    {
        if (i + 1 >= tokens.Count) throw new TsigKeyFormatException($"line {line}: the text ends where {expected} was expected");
        return tokens[++i];
    }

    private static void Expect(List<Token> tokens, ref int i, string punctuation, string expected, int line)
    {
        var token = Next(tokens, ref i, expected, line);
        if (token.Quoted || token.Text != punctuation) throw new TsigKeyFormatException($"line {token.Line}: expected {expected}, found '{token.Text}'");
    }

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int line = 1;
        for (int i = 0; i < text.Length;)
        {
            char c = text[i];
            if (c == '\n') { line++; i++; continue; }
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i < text.Length && text[i] != '\n') i++;
                continue;
            }
            if (c == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                int start = line;
                int close = text.IndexOf("*/", i + 2, StringComparison.Ordinal);
                if (close < 0) throw new TsigKeyFormatException($"line {start}: a '/*' comment is never closed");
                for (int j = i; j < close; j++) if (text[j] == '\n') line++;
                i = close + 2;
                continue;
            }
            if (c is '{' or '}' or ';')
            {
                tokens.Add(new Token(c.ToString(), false, line));
                i++;
                continue;
            }
            if (c == '"')
            {
                var value = new StringBuilder();
                int start = line;
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new TsigKeyFormatException($"line {start}: a quoted string is never closed");
                    char q = text[i++];
                    if (q == '"') break;
                    if (q == '\\' && i < text.Length) q = text[i++];
                    if (q == '\n') line++;
                    value.Append(q);
                }
                tokens.Add(new Token(value.ToString(), true, start));
                continue;
            }
            int begin = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('{' or '}' or ';' or '"')) i++;
            tokens.Add(new Token(text[begin..i], false, line));
        }
        return tokens;
    }
}
