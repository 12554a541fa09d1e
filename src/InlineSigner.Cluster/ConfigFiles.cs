using System.Text.Json;
using System.Text.Json.Serialization;
using NetMQ;

namespace InlineSigner.Cluster;

/// <summary>A node or cluster configuration that cannot be used: the message names the file, the field and the problem.</summary>
public sealed class ClusterConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>JSON reading and writing shared by the node and cluster configuration files.</summary>
internal static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter() },
    };

    public static T Read<T>(string path, string what)
    {
        if (!File.Exists(path)) throw new ClusterConfigException($"{what} {path} does not exist");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options) ?? throw new ClusterConfigException($"{what} {path} is empty");
        }
        catch (JsonException e)
        {
            throw new ClusterConfigException($"{what} {path}: {e.Message}", e);
        }
    }

    /// <summary>Writes atomically with mode 0600: these files hold secret keys.</summary>
    public static void Write<T>(string path, T value) =>
        Node.AtomicFile.WriteText(path, JsonSerializer.Serialize(value, Options) + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);

    public static string ResolvePath(string configPath, string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(configPath))!, path));
}

/// <summary>Key encodings used in configuration files: Z85 for CURVE keys (as ZeroMQ tools print them), base64 for Ed25519.</summary>
public static class KeyText
{
    public static byte[] CurvePublicKey(string text, string field)
    {
        try
        {
            if (text.Length != 40) throw new FormatException($"a Z85 CURVE key has 40 characters, not {text.Length}");
            var key = NetMQCertificate.FromPublicKey(text).PublicKey;
            if (key.Length != 32) throw new FormatException("not 32 bytes");
            return key;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new ClusterConfigException($"{field}: '{text}' is not a Z85 CURVE public key ({e.Message})");
        }
    }

    public static NetMQCertificate CurveCertificate(string secretText, string field)
    {
        try
        {
            if (secretText.Length != 40) throw new FormatException($"a Z85 CURVE key has 40 characters, not {secretText.Length}");
            return NetMQCertificate.CreateFromSecretKey(secretText);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw new ClusterConfigException($"{field} is not a Z85 CURVE secret key ({e.Message})");
        }
    }

    public static byte[] Ed25519Key(string text, string field, int length = 32)
    {
        byte[] key;
        try { key = Convert.FromBase64String(text); }
        catch (FormatException) { throw new ClusterConfigException($"{field}: '{Shorten(text)}' is not base64"); }
        if (key.Length != length) throw new ClusterConfigException($"{field}: an Ed25519 key is {length} bytes, this is {key.Length}");
        return key;
    }

    private static string Shorten(string text) => text.Length > 12 ? text[..12] + "…" : text;
}
