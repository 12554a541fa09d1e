using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ARSoft.Tools.Net;

namespace InlineSigner.Cli.Commands;

/// <summary>
/// The servers the daemon benchmarks run beside it — our own `serve` and `node run` as child processes, BIND's named —
/// and what they measure with: peak resident set from /proc, an AXFR reader that only counts.
/// Every process started here is stopped by <see cref="BenchProcess.DisposeAsync"/>, also when a run fails.
/// </summary>
internal static class BenchServers
{
    /// <summary>How to run this program again: the apphost, or `dotnet inline-signer.dll` when started that way.</summary>
    public static (string File, IReadOnlyList<string> Prefix) Self()
    {
        var path = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(path) == "dotnet" ? (path, [typeof(BenchServers).Assembly.Location]) : (path, []);
    }

    /// <summary>Starts `inline-signer ARGS…` and waits for <paramref name="ready"/> in its output.</summary>
    public static Task<BenchProcess> StartSelfAsync(string name, IEnumerable<string> arguments, string ready, TimeSpan timeout, CancellationToken cancellationToken,
        string? logPath = null)
    {
        var (file, prefix) = Self();
        return BenchProcess.StartAsync(name, file, [.. prefix, .. arguments], ready, timeout, cancellationToken, logPath);
    }

    /// <summary>
    /// named in the foreground on 127.0.0.1:<paramref name="port"/> with <paramref name="zones"/> (zone statements),
    /// its working directory <paramref name="directory"/>; ready once it logs "running" and accepts TCP.
    /// </summary>
    public static async Task<BenchProcess> StartNamedAsync(string directory, int port, string zones, CancellationToken cancellationToken, string extraOptions = "")
    {
        Directory.CreateDirectory(directory);
        var conf = Path.Combine(directory, "named.conf");
        await File.WriteAllTextAsync(conf, $$"""
            options {
                directory "{{directory}}";
                pid-file none;
                listen-on port {{port.ToString(CultureInfo.InvariantCulture)}} { 127.0.0.1; };
                listen-on-v6 { none; };
                recursion no;
                dnssec-validation no;
                allow-transfer { 127.0.0.1; };
                {{extraOptions}}
            };
            controls { };
            {{zones}}
            """, cancellationToken);
        var named = await BenchProcess.StartAsync("named", BenchCommands.FindTool("named"), ["-g", "-c", conf], " running$", TimeSpan.FromMinutes(5), cancellationToken,
            Path.Combine(directory, "named.log"));
        try
        {
            await WaitForTcpAsync(port, TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch
        {
            await named.DisposeAsync();
            throw;
        }
        return named;
    }

    public static async Task WaitForTcpAsync(int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                return;
            }
            catch (SocketException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    /// <summary>Peak resident set (VmHWM) of a running process in MiB; 0 once it is gone.</summary>
    public static long PeakRssMiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    /// <summary>Processes whose command line mentions <paramref name="needle"/> (the node processes a daemon started for us).</summary>
    public static IReadOnlyList<int> ProcessesMentioning(string needle)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(needle, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    public sealed record AxfrCount(int Messages, long Records, long Bytes, TimeSpan Elapsed);

    /// <summary>
    /// One AXFR over TCP that only walks the messages (header, question, record headers) to count records and find the
    /// closing SOA, so both servers are timed with the same, nearly free, client: the time is the server's.
    /// </summary>
    public static async Task<AxfrCount> AxfrAsync(IPEndPoint server, DomainName zone, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server, cancellationToken);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var qname = Zones.RecordWire.Name(zone, lowercase: false);
        var query = new byte[2 + 12 + qname.Length + 4];
        ushort id = (ushort)Random.Shared.Next(65536);
        BinaryPrimitives.WriteUInt16BigEndian(query, (ushort)(query.Length - 2));
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(2), id);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(6), 1); // QDCOUNT
        qname.CopyTo(query.AsSpan(14));
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(14 + qname.Length), 252); // AXFR
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(16 + qname.Length), 1); // IN
        await stream.WriteAsync(query, cancellationToken);

        var buffered = new BufferedStream(stream, 1 << 16);
        var length = new byte[2];
        var message = new byte[65535];
        int messages = 0, soas = 0;
        long records = 0, bytes = 0;
        while (soas < 2)
        {
            await buffered.ReadExactlyAsync(length, cancellationToken);
            int size = BinaryPrimitives.ReadUInt16BigEndian(length);
            await buffered.ReadExactlyAsync(message.AsMemory(0, size), cancellationToken);
            messages++;
            bytes += size + 2;
            var m = message.AsSpan(0, size);
            if (BinaryPrimitives.ReadUInt16BigEndian(m) != id) throw new CliException($"AXFR from {server}: reply with a wrong ID");
            int rcode = m[3] & 0xF;
            if (rcode != 0) throw new CliException($"AXFR from {server} refused (RCODE {rcode})");
            int questions = BinaryPrimitives.ReadUInt16BigEndian(m[4..]), answers = BinaryPrimitives.ReadUInt16BigEndian(m[6..]);
            int at = 12;
            for (int q = 0; q < questions; q++) at = SkipName(m, at) + 4;
            for (int a = 0; a < answers && soas < 2; a++)
            {
                at = SkipName(m, at);
                if (BinaryPrimitives.ReadUInt16BigEndian(m[at..]) == 6) soas++;
                else if (records == 0) throw new CliException($"AXFR from {server} does not start with the SOA");
                at += 10 + BinaryPrimitives.ReadUInt16BigEndian(m[(at + 8)..]);
                records++;
            }
        }
        return new AxfrCount(messages, records - 1, bytes, clock.Elapsed); // the closing SOA repeats the first
    }

    private static int SkipName(ReadOnlySpan<byte> message, int at)
    {
        while (true)
        {
            byte length = message[at];
            if (length == 0) return at + 1;
            if ((length & 0xC0) == 0xC0) return at + 2;
            at += length + 1;
        }
    }

    public sealed record DnsperfResult(double QueriesPerSecond, long Sent, long Completed, long Lost, string ResponseCodes);

    /// <summary>dnsperf against 127.0.0.1:<paramref name="port"/> for <paramref name="seconds"/> with the DO bit on every query.</summary>
    public static async Task<DnsperfResult> DnsperfAsync(int port, string queryFile, double seconds, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(BenchCommands.FindTool("dnsperf")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-s", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-d", queryFile, "-D",
                     "-l", seconds.ToString("0.###", CultureInfo.InvariantCulture), "-c", "4", "-q", "200", "-t", "2" })
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new CliException("could not start dnsperf");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var text = await output;
        if (process.ExitCode != 0) throw new CliException($"dnsperf failed ({process.ExitCode}): {(await error).Trim()} {text.Trim()}");
        double Number(string label)
        {
            var match = Regex.Match(text, $@"{Regex.Escape(label)}:\s+([\d.]+)");
            if (!match.Success) throw new CliException($"dnsperf printed no '{label}':\n{text}");
            return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        var codes = Regex.Match(text, @"Response codes:\s+(.*)");
        return new DnsperfResult(Number("Queries per second"), (long)Number("Queries sent"), (long)Number("Queries completed"), (long)Number("Queries lost"),
            codes.Success ? codes.Groups[1].Value.Trim() : "");
    }

    /// <summary>The percentile <paramref name="p"/> (0..1) of <paramref name="values"/>, nearest rank.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 0.5);

    public static string F(double value, string format = "F2") => value.ToString(format, CultureInfo.InvariantCulture);
}

/// <summary>A server the benchmark started: its output kept, ready when a line matches, stopped (SIGTERM, then killed) on dispose.</summary>
internal sealed class BenchProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private long _peakKiB;

    private BenchProcess(string name, Process process, string? logPath)
    {
        Name = name;
        _process = process;
        _logPath = logPath;
    }

    private readonly string? _logPath;

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public int LogLength
    {
        get { lock (_log) return _log.Length; }
    }

    /// <summary>Starts <paramref name="file"/>; its output goes to <paramref name="logPath"/> when it stops (kept work directories keep it).</summary>
    public static async Task<BenchProcess> StartAsync(string name, string file, IEnumerable<string> arguments, string ready, TimeSpan timeout, CancellationToken cancellationToken,
        string? logPath = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new BenchProcess(name, process, logPath);
        var readyLine = new Regex(ready, RegexOptions.Multiline);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (server._log) server._log.AppendLine(line);
            if (readyLine.IsMatch(line)) started.TrySetResult();
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => started.TrySetException(new CliException($"{name} exited with code {process.ExitCode}:\n{Tail(server.Log)}"));
        if (!process.Start()) throw new CliException($"could not start {file}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await started.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync();
            throw new CliException($"{name} was not ready within {timeout.TotalSeconds:F0} s:\n{Tail(server.Log)}");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    private static string Tail(string log) => log.Length > 4000 ? log[^4000..] : log;

    /// <summary>Waits for a line matching <paramref name="pattern"/> written after <paramref name="from"/> characters of log.</summary>
    public async Task<Match> WaitForLogAsync(string pattern, int from, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var regex = new Regex(pattern, RegexOptions.Multiline);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var log = Log;
            var match = regex.Match(log, Math.Min(from, log.Length));
            if (match.Success) return match;
            if (_process.HasExited) throw new CliException($"{Name} exited with code {_process.ExitCode} while waiting for '{pattern}':\n{Tail(log)}");
            if (clock.Elapsed > timeout) throw new CliException($"{Name}: no '{pattern}' within {timeout.TotalSeconds:F0} s:\n{Tail(log)}");
            SamplePeak();
            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Peak resident set so far (VmHWM is itself a high-water mark; sampled again in case the process is gone by the end).</summary>
    public long PeakRssMiB
    {
        get
        {
            SamplePeak();
            return Interlocked.Read(ref _peakKiB) / 1024;
        }
    }

    private void SamplePeak()
    {
        long mib = BenchServers.PeakRssMiB(_process.Id);
        if (mib * 1024 > Interlocked.Read(ref _peakKiB)) Interlocked.Exchange(ref _peakKiB, mib * 1024);
    }

    /// <summary>SIGTERM and wait for the exit (a clean stop is part of what the daemon must do); killed after 30 s.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        SamplePeak();
        try
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
            if (kill is not null) await kill.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        if (_logPath is not null)
        {
            try { await File.WriteAllTextAsync(_logPath, Log); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
