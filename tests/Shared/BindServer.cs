using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Tests.Shared;

/// <summary>
/// A real BIND 9 <c>named</c> on 127.0.0.1 and a port from the OS, configured in a temporary directory, running in the
/// foreground (<c>-g</c>) until disposed. Disposal kills it (and waits), also when the test failed.
/// </summary>
public sealed class BindServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log;

    private BindServer(TempDirectory directory, int port, Process process, StringBuilder log)
    {
        Directory = directory;
        Port = port;
        _process = process;
        _log = log;
    }

    public TempDirectory Directory { get; }
    public int Port { get; }
    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

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
            var start = new ProcessStartInfo(ExternalTool.Find("named"))
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "-g", "-c", directory.File("named.conf"), "-n", "1" }) start.ArgumentList.Add(argument);
            var log = new StringBuilder();
            var process = Process.Start(start) ?? throw new InvalidOperationException("could not start named");
            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (log) log.AppendLine(e.Data);
                if (e.Data.Contains(" running", StringComparison.Ordinal)) running.TrySetResult();
            };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (log) log.AppendLine(e.Data);
            };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var server = new BindServer(directory, port.Value, process, log);
            try
            {
                var exited = process.WaitForExitAsync();
                var first = await Task.WhenAny(running.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
                if (first != running.Task)
                    throw new InvalidOperationException($"named did not start (exited: {process.HasExited}):\n{server.Log}");
                await server.WaitForTcpAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
            return server;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>named logs "running" as its listeners are being set up: wait until TCP connections are accepted, so the
    /// first test does not meet a refused connection.</summary>
    private async Task WaitForTcpAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(Endpoint);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
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
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        finally
        {
            _process.Dispose();
            Directory.Dispose();
        }
    }
}
