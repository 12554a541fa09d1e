using ARSoft.Tools.Net;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Protocol.Tests;

public sealed class TsigKeyTests
{
    private const string Secret = "PULkSO3UvZapccfKDdhQV+chStEDYgj8r84qLrAol6o=";

    [Theory]
    [InlineData("hmac-sha256:xfr-key:" + Secret)] // dig -y order
    [InlineData("xfr-key:hmac-sha256:" + Secret)]
    [InlineData("HMAC-SHA256.:Xfr-Key.:" + Secret)]
    public void Parses_both_field_orders(string text)
    {
        using var key = TsigKey.Parse(text);
        Assert.True(key.HasName(DomainName.Parse("xfr-key")));
        Assert.Equal(TsigAlgorithm.HmacSha256, key.Algorithm);
        Assert.Equal(Convert.FromBase64String(Secret), key.Secret.ToArray());
    }

    [Theory]
    [InlineData("hmac-md5", TsigAlgorithm.HmacMd5)]
    [InlineData("hmac-md5.sig-alg.reg.int", TsigAlgorithm.HmacMd5)]
    [InlineData("hmac-sha1", TsigAlgorithm.HmacSha1)]
    [InlineData("hmac-sha224", TsigAlgorithm.HmacSha224)]
    [InlineData("hmac-sha384", TsigAlgorithm.HmacSha384)]
    [InlineData("hmac-sha512", TsigAlgorithm.HmacSha512)]
    public void Knows_every_RFC_8945_algorithm(string name, TsigAlgorithm algorithm)
    {
        using var key = TsigKey.Parse($"{name}:k:{Secret}");
        Assert.Equal(algorithm, key.Algorithm);
    }

    [Theory]
    [InlineData("xfr-key:" + Secret, "found 2 colon-separated fields")]
    [InlineData("a:b:c:d", "found 4")]
    [InlineData("hmac-sha999:xfr-key:" + Secret, "is a TSIG algorithm")]
    [InlineData("hmac-sha256:xfr-key:not*base64", "not valid base64")]
    [InlineData("hmac-sha256:xfr-key:", "empty")]
    [InlineData("hmac-sha256::" + Secret, "is not a key name")]
    public void Bad_key_text_is_a_clear_error_without_the_secret(string text, string expected)
    {
        var e = Assert.Throws<TsigKeyFormatException>(() => TsigKey.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_names_the_key_not_the_secret_and_Dispose_zeroes_it()
    {
        var key = TsigKey.Parse("hmac-sha512:xfr-key:" + Secret);
        Assert.Equal("xfr-key. (hmac-sha512)", key.ToString());
        var secret = key.Secret; // the span over the stored secret
        key.Dispose();
        Assert.All(secret.ToArray(), b => Assert.Equal(0, b));
        Assert.Throws<ObjectDisposedException>(() => key.Secret.Length);
        key.Dispose(); // twice is harmless
    }

    [Fact]
    public void Empty_secret_is_refused() =>
        Assert.Throws<ArgumentException>(() => new TsigKey(DomainName.Parse("k"), TsigAlgorithm.HmacSha256, []));

    [Theory]
    [InlineData("hmac-sha256")]
    [InlineData("hmac-sha512")]
    [InlineData("hmac-md5")]
    public async Task Reads_what_tsig_keygen_writes(string algorithm)
    {
        var generated = await ExternalTool.RunAsync("tsig-keygen", "-a", algorithm, "transfer.example");
        Assert.True(generated.ExitCode == 0, generated.All);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("key.conf"), generated.Output);
        var keys = await TsigKey.LoadBindKeyFileAsync(dir.File("key.conf"), CancellationToken.None);
        var key = Assert.Single(keys);
        Assert.True(key.HasName(DomainName.Parse("transfer.example")));
        Assert.True(TsigAlgorithms.TryParse(algorithm, out var expected));
        Assert.Equal(expected, key.Algorithm);
        var secret = System.Text.RegularExpressions.Regex.Match(generated.Output, "secret \"([^\"]+)\"").Groups[1].Value;
        Assert.Equal(Convert.FromBase64String(secret), key.Secret.ToArray());
    }

    [Fact]
    public void Reads_several_keys_with_comments_and_quoting()
    {
        var keys = TsigKey.ParseBindKeys($$"""
            # a comment
            key "one.example" { algorithm hmac-sha256; secret "{{Secret}}"; };
            // another
            /* a block
               comment */ key two { algorithm "HMAC-SHA1"; secret {{Secret}}; };
            """);
        Assert.Equal(2, keys.Count);
        Assert.True(keys[0].HasName(DomainName.Parse("one.example")));
        Assert.Equal(TsigAlgorithm.HmacSha1, keys[1].Algorithm);
    }

    [Theory]
    [InlineData("options { };", "line 1: expected a 'key' statement, found 'options'")]
    [InlineData("key \"k\" { algorithm hmac-sha256; };", "line 1: key k has no secret")]
    [InlineData("key \"k\" {\n secret \"" + Secret + "\"; };", "line 1: key k has no algorithm")]
    [InlineData("key \"k\" {\n algorithm hmac-sha256;\n secret \"" + Secret + "\";\n}", "the text ends where ';' after the closing '}' of key k was expected")]
    [InlineData("key \"k\" { algorithm hmac-sha256; color blue; };", "unknown field 'color'")]
    [InlineData("key \"k\" { algorithm rot13; secret \"" + Secret + "\"; };", "'rot13' is not a TSIG algorithm")]
    [InlineData("key \"k\" { algorithm hmac-sha256; secret \"%%%\"; };", "not valid base64")]
    [InlineData("key \"k\" { algorithm hmac-sha256; secret \"abc", "never closed")]
    [InlineData("# nothing\n", "no key statement found")]
    public void Key_file_errors_name_the_line_and_the_problem(string text, string expected)
    {
        var e = Assert.Throws<TsigKeyFormatException>(() => TsigKey.ParseBindKeys(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
