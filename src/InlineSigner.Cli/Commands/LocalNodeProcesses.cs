using System.Diagnostics;
using InlineSigner.Cluster;
using InlineSigner.Cluster.Node;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// A throw-away local cluster: configurations written by <see cref="ClusterSetup.GenerateCluster"/> into a temporary
/// directory on free 127.0.0.1 ports, and every node an `inline-signer node run` child process of this command.
/// <see cref="DisposeAsync"/> kills every node, waits for it to be gone and deletes the directory; callers dispose in
/// a finally block, so an exception or a cancellation (Ctrl-C, SIGTERM) leaves no process and no key material behind.
/// </summary>
internal sealed class LocalNodeProcesses : IAsyncDisposable
{
    private const int LogLines = 40;
    private static readonly TimeSpan ListenTimeout = TimeSpan.FromSeconds(60);

    private readonly string _directory;
    private readonly List<Process> _processes = [];
    private readonly Dictionary<int, Queue<string>> _logs = [];
    private readonly object _stopGate = new();
    private bool _stopped;

    private LocalNodeProcesses(string directory, GeneratedCluster generated)
    {
        _directory = directory;
        Generated = generated;
    }

    public GeneratedCluster Generated { get; }

    /// <summary>The temporary directory with every node's configuration and share store (deleted on dispose).</summary>
    public string WorkDirectory => _directory;

    public string ClusterConfigPath => Generated.ClusterConfigPath;

    /// <summary>The running node processes (for their processor time).</summary>
    public IReadOnlyList<Process> Processes
    {
        get { lock (_processes) return [.. _processes]; }
    }

    /// <summary>
    /// Writes the configuration and starts the nodes, returning once every one of them listens. A port taken by
    /// someone else between our check and the node's bind is retried on other ports; any other failure names the
    /// node and the last lines it printed.
    /// </summary>
    public static async Task<LocalNodeProcesses> StartAsync(int nodes, int threshold, NodeLimits limits, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateTempSubdirectory("inline-signer-bench-cluster-").FullName;
            LocalNodeProcesses? cluster = null;
            try
            {
                var generated = ClusterSetup.GenerateCluster(directory, nodes, threshold, new LoopbackPorts().Consecutive(nodes)[0], limits: limits);
                cluster = new LocalNodeProcesses(directory, generated);
                await Task.WhenAll(Enumerable.Range(1, nodes).Select(id => cluster.StartNodeAsync(id, cancellationToken)));
                return cluster;
            }
            catch (NodeStartException e) when (e.PortTaken && attempt < 3)
            {
                await DisposeOrDeleteAsync(cluster, directory);
            }
            catch (NodeStartException e)
            {
                await DisposeOrDeleteAsync(cluster, directory);
                throw new CliException(e.Message);
            }
            catch
            {
                await DisposeOrDeleteAsync(cluster, directory);
                throw;
            }
        }
    }

    private static async Task DisposeOrDeleteAsync(LocalNodeProcesses? cluster, string directory)
    {
        if (cluster is not null) await cluster.DisposeAsync();
        else if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    /// <summary>A node process ended before it listened; <see cref="PortTaken"/> when another process had its port.</summary>
    private sealed class NodeStartException(string message, bool portTaken) : Exception(message)
    {
        public bool PortTaken { get; } = portTaken;
    }

    private async Task StartNodeAsync(int id, CancellationToken cancellationToken)
    {
        // The node also stops when our end of its standard input closes, which happens when this process dies
        // without running any cleanup (SIGKILL): no node outlives its bench.
        var start = BenchCommands.SelfStartInfo(["node", "run", "--config", Generated.NodeConfigPaths[id - 1], "--stop-with-stdin"]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new Queue<string>();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (log)
            {
                log.Enqueue(line);
                if (log.Count > LogLines) log.Dequeue();
            }
            // NodeServer.Start logs this once every endpoint is bound.
            if (line.Contains(" listening on ", StringComparison.Ordinal)) listening.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            var text = Log(id);
            listening.TrySetException(new NodeStartException($"node {id} exited with code {process.ExitCode} before it listened: {text}",
                text.Contains("cannot listen on", StringComparison.Ordinal)));
        };
        lock (_processes)
        {
            _logs[id] = log;
            process.Start();
            _processes.Add(process);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await listening.Task.WaitAsync(ListenTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new CliException($"node {id} did not listen within {ListenTimeout.TotalSeconds:0} s: {Log(id)}");
        }
    }

    /// <summary>The last lines node <paramref name="id"/> printed, on one line (for error messages).</summary>
    public string Log(int id)
    {
        Queue<string>? log;
        lock (_processes) log = _logs.GetValueOrDefault(id);
        if (log is null) return "";
        lock (log) return string.Join(" | ", log);
    }

    /// <summary>
    /// Kills every node (SIGKILL: they hold nothing but this run's throw-away keys, so there is nothing to shut down
    /// cleanly), waits until each is gone, then deletes the directory with their configurations and share stores.
    /// Synchronous and idempotent, so it can run from a cancellation callback the moment a signal arrives.
    /// </summary>
    public void Stop()
    {
        lock (_stopGate)
        {
            if (_stopped) return;
            _stopped = true;
            List<Process> processes;
            lock (_processes) processes = [.. _processes];
            foreach (var process in processes)
            {
                try { process.Kill(); }
                catch (InvalidOperationException) { } // already gone
                catch (System.ComponentModel.Win32Exception) { } // exiting
            }
            foreach (var process in processes)
            {
                try { process.WaitForExit(TimeSpan.FromSeconds(5)); }
                catch (InvalidOperationException) { }
                process.Dispose();
            }
            try
            {
                if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }
}
