using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;


namespace InlineSigner.Tests.Shared;

/// <summary>
/// A server (named, nsd, knotd, our own node) run in the foreground as a child process of the test: its output is kept as its log, it
/// counts as started once it has logged <c>readyText</c> and accepts TCP connections on its port, and disposal kills it
/// with its children (nsd forks) and waits, also when the test failed.
/// </summary>
public sealed class ForegroundProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ForegroundProcess(Process process) => _process = process;

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <paramref name="tool"/> (a name looked up like the other tools, or a path) and waits for
    /// <paramref name="readyText"/> in its output and, when <paramref name="port"/> is given, for TCP connections there.
    /// </summary>
    public static async Task<ForegroundProcess> StartAsync(string tool, IEnumerable<string> arguments, string readyText, int? port, string workingDirectory)
    {
        var start = new ProcessStartInfo(tool.Contains('/') ? tool : ExternalTool.Find(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var server = new ForegroundProcess(process);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (server._log) server._log.AppendLine(line);
            if (line.Contains(readyText, StringComparison.Ordinal)) ready.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var exited = process.WaitForExitAsync();
            var first = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
            if (first != ready.Task) throw new InvalidOperationException($"{tool} did not start (exited: {process.HasExited}):\n{server.Log}");
            if (port is { } tcp) await WaitForTcpAsync(tcp, tool, server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>The "started" line can come before the listeners take connections; the first transfer must not meet a refusal.</summary>
    private static async Task WaitForTcpAsync(int port, string tool, ForegroundProcess server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !server.HasExited)
            {
                await Task.Delay(50);
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"{tool} does not accept TCP on port {port}: {e.Message}\n{server.Log}", e);
            }
        }
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
        }
    }
}
