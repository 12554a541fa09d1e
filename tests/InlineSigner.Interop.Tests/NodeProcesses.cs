using System.Diagnostics;
using System.Text;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Interop.Tests;

/// <summary>
/// A local cluster of real `inline-signer node run` processes, configured by `inline-signer node genconfig` on free
/// ports, as an operator would run it. Nodes can be killed (SIGKILL) and restarted; every process is killed on dispose,
/// also when a test fails.
/// </summary>
internal sealed class NodeProcesses : IAsyncDisposable
{
    private readonly Process?[] _processes;
    private readonly StringBuilder[] _logs;

    private NodeProcesses(TempDirectory directory, int n, int basePort)
    {
        Directory = directory;
        BasePort = basePort;
        _processes = new Process?[n + 1];
        _logs = Enumerable.Range(0, n + 1).Select(_ => new StringBuilder()).ToArray();
    }

    public TempDirectory Directory { get; }
    public int BasePort { get; }
    public string ClusterJson => Directory.File("cluster.json");
    public string NodeJson(int id) => Directory.File($"node{id}.json");
    public int Parties => _processes.Length - 1;

    public static async Task<NodeProcesses> StartAsync(int n, int t)
    {
        var directory = new TempDirectory("inline-signer-nodes-");
        var ports = FreePorts.GetRange(n);
        var genconfig = await CliTests.RunCli("node", "genconfig", "--nodes", n.ToString(), "--threshold", t.ToString(), "--out", directory.Path,
            "--base-port", ports[0].ToString());
        if (genconfig.ExitCode != 0) throw new InvalidOperationException($"genconfig failed: {genconfig.All}");
        var cluster = new NodeProcesses(directory, n, ports[0]);
        try
        {
            await Task.WhenAll(Enumerable.Range(1, n).Select(cluster.StartNodeAsync));
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    /// <summary>Starts node <paramref name="id"/> and waits until it listens.</summary>
    public async Task StartNodeAsync(int id)
    {
        if (_processes[id] is { HasExited: false }) throw new InvalidOperationException($"node {id} is running");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inline-signer.dll"));
        foreach (var argument in new[] { "node", "run", "--config", NodeJson(id) }) start.ArgumentList.Add(argument);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var log = _logs[id];
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (log) log.AppendLine(line);
            if (line.Contains(" listening on ", StringComparison.Ordinal)) listening.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"node {id} exited with {process.ExitCode}: {Log(id)}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes[id] = process;
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>kill -9: no shutdown, no flush; what a crash or a pulled plug does.</summary>
    public void Kill(int id)
    {
        var process = _processes[id];
        if (process is null) return;
        try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        process.WaitForExit(10_000);
        process.Dispose();
        _processes[id] = null;
    }

    public string Log(int id)
    {
        lock (_logs[id]) return _logs[id].ToString();
    }

    public ValueTask DisposeAsync()
    {
        for (int id = 1; id < _processes.Length; id++) Kill(id);
        Directory.Dispose();
        return ValueTask.CompletedTask;
    }
}
