using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Server.Hosting;

/// <summary>
/// The embedded default's key cluster: each node is a separate `inline-signer node run` process (its own share store,
/// its own CURVE key), started and watched by the signer on this machine. A node that exits is started again after a
/// pause; all are stopped (SIGTERM, then killed) when the signer stops. Real deployments run the nodes on other hosts.
/// </summary>
public sealed class LocalNodes(IReadOnlyList<string> nodeConfigs, ILogger logger) : IAsyncDisposable
{
    private readonly Dictionary<string, Process> _processes = [];
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stopping = new();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = nodeConfigs.Select(config => StartOneAsync(config, cancellationToken)).ToList();
        await Task.WhenAll(started);
    }

    /// <summary>The command that runs this program: the apphost itself, or `dotnet inline-signer.dll`.</summary>
    public static (string File, IReadOnlyList<string> Prefix) Self()
    {
        var path = Environment.ProcessPath ?? "dotnet";
        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("cannot find the inline-signer assembly to start nodes with");
            return (path, [entry]);
        }
        return (path, []);
    }

    private async Task StartOneAsync(string config, CancellationToken cancellationToken)
    {
        var (file, prefix) = Self();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in prefix) start.ArgumentList.Add(argument);
        foreach (var argument in new[] { "node", "run", "--config", config }) start.ArgumentList.Add(argument);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var name = Path.GetFileNameWithoutExtension(config);
        void OnLine(string? line)
        {
            if (line is null) return;
            if (line.Contains(" listening on ", StringComparison.Ordinal)) listening.TrySetResult();
            if (line.Contains(" fail:", StringComparison.Ordinal) || line.Contains(" warn:", StringComparison.Ordinal) || line.Contains(" crit:", StringComparison.Ordinal))
                logger.LogWarning("{Node}: {Line}", name, line);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            listening.TrySetException(new InvalidOperationException($"{name} ({config}) exited with code {SafeExitCode(process)} before it listened"));
            if (_stopping.IsCancellationRequested) return;
            var code = SafeExitCode(process);
            _ = Task.Run(async () =>
            {
                try
                {
                    // A stop signal to the whole process group reaches the nodes first: wait before calling it a crash.
                    await Task.Delay(TimeSpan.FromSeconds(2), _stopping.Token);
                    logger.LogError("{Node} exited with code {Code}; starting it again", name, code);
                    await StartOneAsync(config, _stopping.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or TimeoutException)
                {
                    if (!_stopping.IsCancellationRequested) logger.LogError("{Node} could not be restarted: {Reason}", name, e.Message);
                }
            });
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (_gate) _processes[config] = process;
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        logger.LogInformation("{Node} is running (pid {Pid})", name, process.Id);
    }

    private static string SafeExitCode(Process process)
    {
        try { return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        catch (InvalidOperationException) { return "?"; }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        List<Process> processes;
        lock (_gate) processes = [.. _processes.Values];
        foreach (var process in processes)
        {
            try
            {
                if (process.HasExited) continue;
                // SIGTERM first: the node's host shuts down cleanly; then make sure.
                Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit(2000);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        foreach (var process in processes)
        {
            try
            {
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
            catch (InvalidOperationException) { }
            process.Dispose();
        }
        _stopping.Dispose();
    }
}
