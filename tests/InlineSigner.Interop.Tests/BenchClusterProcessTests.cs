using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Interop.Tests;

/// <summary>
/// `bench cluster` as a user runs it: a short run prints every figure (no timing is asserted: benchmarks measure,
/// tests do not), and however the run ends — finished, Ctrl-C, SIGTERM, SIGKILL — no node process outlives it.
/// </summary>
public sealed class BenchClusterProcessTests
{
    /// <summary>Fixture safe primes: a 1024-bit key without a prime search.</summary>
    private static string Primes => Path.Combine(RepositoryPaths.Root, "tests", "InlineSigner.Threshold.Tests", "Fixtures", "safeprimes-512.txt");

    private static readonly string[] ShortRun = ["bench", "cluster", "--seconds", "0.5", "--rounds", "2", "--bits", "1024", "--primes", Primes, "--latency-samples", "5"];

    [Fact]
    public async Task A_short_run_prints_every_figure_as_json_and_leaves_no_node_or_file_behind()
    {
        var result = await CliTests.RunCli([.. ShortRun, "--json"]);
        Assert.True(result.ExitCode == 0, result.All);
        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("t").GetInt32());
        Assert.Equal(5, root.GetProperty("n").GetInt32());
        Assert.Equal(1024, root.GetProperty("bits").GetInt32());
        Assert.Equal(Environment.ProcessorCount, root.GetProperty("cores").GetInt32());
        foreach (var algorithm in new[] { "rsa", "ed25519" })
            foreach (var figure in new[] { "single_per_s", "inprocess_per_s", "cluster_per_s", "cluster_over_inprocess", "inprocess_cpu_ms",
                         "cluster_client_cpu_ms", "cluster_nodes_cpu_ms", "latency_min_ms", "latency_p50_ms", "latency_p95_ms" })
            {
                var name = $"{algorithm}_{figure}";
                Assert.True(root.TryGetProperty(name, out var value), $"{name} missing: {result.Output}");
                Assert.True(value.GetDouble() > 0, $"{name} = {value}");
            }
        foreach (var name in new[] { "rsa_round_ratios", "ed25519_round_ratios" })
        {
            var ratios = root.GetProperty(name).EnumerateArray().Select(r => r.GetDouble()).ToList();
            Assert.Equal(2, ratios.Count);
            Assert.All(ratios, r => Assert.True(r > 0, $"{name}: {r}"));
        }
        Assert.True(root.GetProperty("rsa_latency_p95_ms").GetDouble() >= root.GetProperty("rsa_latency_p50_ms").GetDouble());

        var directory = WorkDirectory(result.Error);
        Assert.False(Directory.Exists(directory), $"{directory} was left behind");
        Assert.Empty(ProcessesMentioning(directory));
    }

    /// <summary><paramref name="signal"/> arrives once the bench has printed <paramref name="phase"/>: while it sets up, or while it measures the cluster.</summary>
    [Theory]
    [InlineData("INT", "through the cluster")]
    [InlineData("TERM", "nodes listening")]
    [InlineData("KILL", "nodes listening")]
    public async Task A_run_ended_by_a_signal_stops_every_node(string signal, string phase)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inline-signer.dll"));
        foreach (var argument in ShortRun.Select(a => a == "0.5" ? "3" : a)) start.ArgumentList.Add(argument);
        using var bench = Process.Start(start)!;
        var error = new StringBuilder();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bench.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (error) error.AppendLine(e.Data);
            if (e.Data.Contains(phase, StringComparison.Ordinal)) reached.TrySetResult();
        };
        bench.BeginErrorReadLine();
        _ = bench.StandardOutput.ReadToEndAsync();
        string directory = "";
        try
        {
            await reached.Task.WaitAsync(TimeSpan.FromMinutes(2));
            lock (error) directory = WorkDirectory(error.ToString());
            Assert.Equal(5, ProcessesMentioning(directory).Count);

            var kill = await ExternalTool.RunAsync("kill", $"-{signal}", bench.Id.ToString());
            Assert.True(kill.ExitCode == 0, kill.All);
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(90))) await bench.WaitForExitAsync(exit.Token);
            if (signal != "KILL")
            {
                Assert.Equal(130, bench.ExitCode);
                lock (error) Assert.Contains("inline-signer: cancelled", error.ToString());
                Assert.False(Directory.Exists(directory), $"{directory} was left behind");
            }
            // Nodes see their standard input close when the bench is gone, however it went (five processes shutting down
            // on a loaded machine: a deadline, not an expected duration).
            await Eventually.AssertAsync(() => ProcessesMentioning(directory).Count == 0, "no node process left",
                () => $"processes {string.Join(", ", ProcessesMentioning(directory))}", TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!bench.HasExited) bench.Kill(entireProcessTree: true);
            foreach (var pid in directory.Length > 0 ? ProcessesMentioning(directory) : [])
                try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
            if (directory.Length > 0 && Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The temporary cluster directory the bench names on stderr.</summary>
    private static string WorkDirectory(string stderr)
    {
        var match = Regex.Match(stderr, @"share stores in (\S+)\)");
        Assert.True(match.Success, stderr);
        return match.Groups[1].Value;
    }

    /// <summary>Processes whose command line names <paramref name="text"/> (the nodes name their configuration in it).</summary>
    private static List<int> ProcessesMentioning(string text)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ').Contains(text, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }
}
