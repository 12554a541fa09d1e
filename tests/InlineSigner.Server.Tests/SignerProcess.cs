using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests;

/// <summary>
/// `inline-signer serve` as its own process, configured by a JSON file written for the test: DNS, metrics and control
/// on ports from the OS, state in a temporary directory. It can be stopped (SIGTERM), killed (SIGKILL) and started
/// again on the same state; dispose kills it, also when a test fails.
/// </summary>
public sealed class SignerProcess : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private Process? _process;

    private SignerProcess(TempDirectory directory, JsonObject config)
    {
        Directory = directory;
        Config = config;
        DnsPort = FreePorts.Get();
        MetricsPort = FreePorts.Get();
        ControlPort = FreePorts.Get();
        config["Signer"]!["Listen"] = new JsonArray($"127.0.0.1:{DnsPort}");
        config["Signer"]!["Metrics"] = $"127.0.0.1:{MetricsPort}";
        config["Signer"]!["Control"] = $"127.0.0.1:{ControlPort}";
        config["Signer"]!["DataDirectory"] ??= directory.File("data");
    }

    public TempDirectory Directory { get; }

    /// <summary>The configuration; change it and <see cref="WriteConfig"/> before a (re)start or a SIGHUP.</summary>
    public JsonObject Config { get; }

    public int DnsPort { get; }
    public int MetricsPort { get; }
    public int ControlPort { get; }
    public IPEndPoint DnsEndpoint => new(IPAddress.Loopback, DnsPort);
    public string ConfigPath => Directory.File("signer.json");
    public int? Pid => _process?.Id;

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>A signer with local Ed25519 keys (a KSK and a ZSK generated into the state directory) for one zone configured by <paramref name="zone"/>.</summary>
    public static async Task<SignerProcess> StartAsync(JsonObject zone, bool start = true)
    {
        var directory = new TempDirectory("inline-signer-serve-");
        var keys = directory.File("keys");
        var name = zone["Name"]!.GetValue<string>();
        foreach (var ksk in new[] { true, false })
        {
            var result = await RunCliAsync(["keys", "generate", "--zone", name, "--algorithm", "ed25519", "--dir", keys, .. (ksk ? new[] { "--ksk" } : [])]);
            if (result.ExitCode != 0) throw new InvalidOperationException(result.All);
        }
        var config = new JsonObject { ["Signer"] = new JsonObject { ["KeyDirectory"] = keys, ["Zones"] = new JsonArray(zone) } };
        var signer = new SignerProcess(directory, config);
        if (start) await signer.StartAsync();
        return signer;
    }

    /// <summary>
    /// A signer (not started) for several zones whose keys it makes itself on first start (GenerateKeys: a local Ed25519
    /// KSK and ZSK per zone, written to <see cref="KeyDirectory"/>); <paramref name="configure"/> adds to the Signer section.
    /// </summary>
    public static SignerProcess Create(IEnumerable<JsonObject> zones, Action<JsonObject>? configure = null)
    {
        var directory = new TempDirectory("inline-signer-serve-");
        var keys = directory.File("keys");
        System.IO.Directory.CreateDirectory(keys);
        var list = new JsonArray();
        foreach (var zone in zones)
        {
            zone["GenerateKeys"] ??= "ed25519";
            list.Add(zone);
        }
        var signer = new JsonObject { ["KeyDirectory"] = keys, ["Zones"] = list };
        configure?.Invoke(signer);
        return new SignerProcess(directory, new JsonObject { ["Signer"] = signer });
    }

    /// <summary>The local key directory (BIND-format key files).</summary>
    public string KeyDirectory => Config["Signer"]!["KeyDirectory"]!.GetValue<string>();

    /// <summary>True while the daemon's process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };
    /// <summary>
    /// A signer run on a configuration the caller wrote (e.g. conf/signer.json with its hosts rewritten); only Listen,
    /// Metrics and Control are replaced by ports from the OS. Files it names relative to itself belong in
    /// <paramref name="directory"/>, where the configuration is written as signer.json.
    /// </summary>
    public static SignerProcess FromConfig(TempDirectory directory, JsonObject config) => new(directory, config);

    public void WriteConfig() => File.WriteAllText(ConfigPath, Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Starts the daemon and waits until it serves DNS.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false }) throw new InvalidOperationException("the signer is running");
        WriteConfig();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inline-signer.dll"));
        foreach (var argument in new[] { "serve", "--config", ConfigPath }) start.ArgumentList.Add(argument);
        var serving = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (_log) _log.AppendLine(line);
            if (line.Contains("Application started", StringComparison.Ordinal)) serving.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => serving.TrySetException(new InvalidOperationException($"the signer exited with {process.ExitCode}:\n{Log}"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await serving.Task.WaitAsync(TimeSpan.FromSeconds(120));
    }

    /// <summary>Runs the daemon expecting it to refuse to start; returns its exit code and output.</summary>
    public async Task<ToolResult> StartExpectingFailureAsync()
    {
        WriteConfig();
        return await RunCliAsync(["serve", "--config", ConfigPath], TimeSpan.FromSeconds(60));
    }

    /// <summary>SIGKILL: no shutdown, no flush.</summary>
    public void Kill()
    {
        if (_process is null) return;
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
        _process.Dispose();
        _process = null;
    }

    /// <summary>SIGTERM and wait for a clean exit; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (_process is null) return 0;
        Signal("TERM");
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(wait.Token);
        int code = _process.ExitCode;
        _process.Dispose();
        _process = null;
        return code;
    }

    public void Signal(string signal)
    {
        if (_process is null) throw new InvalidOperationException("the signer is not running");
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Waits until the log has a line matching <paramref name="pattern"/> (after <paramref name="fromLength"/> characters).</summary>
    public async Task<string> WaitForLogAsync(string pattern, TimeSpan timeout, int fromLength = 0)
    {
        var regex = new System.Text.RegularExpressions.Regex(pattern);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var log = Log;
            var match = regex.Match(log, Math.Min(fromLength, log.Length));
            if (match.Success) return match.Value;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no log line matching '{pattern}' within {timeout}:\n{Log}");
    }

    public Task<ToolResult> Dig(params string[] arguments) =>
        ExternalTool.RunAsync("dig", ["@127.0.0.1", "-p", DnsPort.ToString(CultureInfo.InvariantCulture), "+norec", "+time=5", "+tries=2", .. arguments], timeout: TimeSpan.FromSeconds(60));

    /// <summary>The signed zone as served (AXFR), written to <paramref name="path"/> as a master file.</summary>
    public async Task<string> AxfrToFileAsync(string zone, string path)
    {
        var result = await Dig(zone, "AXFR", "+onesoa", "+nocmd", "+nostats", "+nocomments");
        if (result.ExitCode != 0 || result.Output.Contains("Transfer failed", StringComparison.Ordinal)) throw new InvalidOperationException($"AXFR of {zone} failed: {result.All}");
        await File.WriteAllTextAsync(path, result.Output);
        return result.Output;
    }

    /// <summary>The metrics page, parsed to name{labels} → value.</summary>
    public async Task<IReadOnlyDictionary<string, double>> MetricsAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{MetricsPort}/metrics");
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) values[line[..space]] = value;
        }
        return values;
    }

    public static double Metric(IReadOnlyDictionary<string, double> metrics, string key) => metrics.TryGetValue(key, out var v) ? v : 0;

    public static Task<ToolResult> RunCliAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) => ExternalTool.RunInlineSignerAsync(arguments, timeout);

    public ValueTask DisposeAsync()
    {
        Kill();
        Directory.Dispose();
        return ValueTask.CompletedTask;
    }
}
