using System.Globalization;
using System.Net;

namespace InlineSigner.Tests.Shared;

/// <summary>
/// A real BIND 9 <c>named</c> on 127.0.0.1 and a port from the OS, configured in a temporary directory, running in the
/// foreground (<c>-g</c>) until disposed. Disposal kills it (and waits), also when the test failed.
/// </summary>
public sealed class BindServer : IAsyncDisposable
{
    private readonly ForegroundProcess _process;

    private BindServer(TempDirectory directory, int port, ForegroundProcess process)
    {
        Directory = directory;
        Port = port;
        _process = process;
    }

    public TempDirectory Directory { get; }
    public int Port { get; }
    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    public string Log => _process.Log;

    /// <summary>Starts named with <paramref name="configuration"/> (keys, zones) after the standard options; files the zones
    /// need are written by <paramref name="prepare"/> into the directory first. <paramref name="port"/>: a port from
    /// <see cref="FreePorts"/> taken beforehand, when another server must know it first (a primary that NOTIFYs us).</summary>
    public static async Task<BindServer> StartAsync(string configuration, Action<TempDirectory> prepare, string extraOptions = "", int? port = null)
    {
        var directory = new TempDirectory("named-");
        try
        {
            prepare(directory);
            port ??= FreePorts.Get();
            string d = directory.Path;
            var conf = $$"""
                options {
                    directory "{{d}}";
                    pid-file "{{d}}/named.pid";
                    session-keyfile "{{d}}/session.key";
                    managed-keys-directory "{{d}}";
                    listen-on port {{port.Value.ToString(CultureInfo.InvariantCulture)}} { 127.0.0.1; };
                    listen-on-v6 { none; };
                    recursion no;
                    notify no;
                    allow-transfer { any; };
                    {{extraOptions}}
                };
                controls { };
                {{configuration}}
                """;
            await File.WriteAllTextAsync(directory.File("named.conf"), conf);
            var process = await ForegroundProcess.StartAsync("named", ["-g", "-c", directory.File("named.conf"), "-n", "1"], " running", port.Value, d);
            return new BindServer(directory, port.Value, process);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    public Task<ToolResult> Dig(params string[] arguments) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "+norec", "+time=5", "+tries=1", .. arguments], timeout: TimeSpan.FromSeconds(60));

    /// <summary>Runs nsupdate against this server with <paramref name="script"/> (its server line is added).</summary>
    public async Task UpdateAsync(string script, string? keyFile = null)
    {
        var arguments = keyFile is null ? new List<string>() : ["-k", keyFile];
        var result = await ExternalTool.RunAsync("nsupdate", arguments, standardInput: $"server 127.0.0.1 {Port.ToString(CultureInfo.InvariantCulture)}\n{script}\n", timeout: TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0) throw new InvalidOperationException($"nsupdate failed: {result.All}\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.DisposeAsync();
        }
        finally
        {
            Directory.Dispose();
        }
    }
}
