using System.Diagnostics;
using System.Text;

namespace InlineSigner.Tests.Shared;

/// <summary>The result of running a real tool (BIND, ldns, Knot) from a test.</summary>
public sealed record ToolResult(int ExitCode, string Output, string Error)
{
    public string All => Output + Error;
}

/// <summary>
/// Runs the real DNS tools the interop tests check against. A missing tool fails the test (CI installs them via
/// .ci/run); it is never silently skipped.
/// </summary>
public static class ExternalTool
{
    public static string Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            $"required tool '{name}' is not installed; run .ci/run (it installs bind9, bind9-utils, ldnsutils, knot-dnssecutils, nsd, knot)");
    }

    public static async Task<ToolResult> RunAsync(string name, IEnumerable<string> arguments, string? workingDirectory = null,
        TimeSpan? timeout = null, string? standardInput = null)
    {
        var start = new ProcessStartInfo(Find(name))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
            process.StandardInput.Close();
        }
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} {string.Join(' ', start.ArgumentList)} did not finish in time");
        }
        return new ToolResult(process.ExitCode, await output, await error);
    }

    public static Task<ToolResult> RunAsync(string name, params string[] arguments) => RunAsync(name, (IEnumerable<string>)arguments);

    /// <summary>Our own `inline-signer` program, as built beside the test binaries, run the way a user runs it.</summary>
    public static Task<ToolResult> RunInlineSignerAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "inline-signer.dll"), .. arguments], timeout: timeout);
}

/// <summary>A temporary directory deleted when the test ends.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "inline-signer-test-") => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Paths inside the repository, wherever the test binaries were built.</summary>
public static class RepositoryPaths
{
    public static string Root
    {
        get
        {
            var recorded = typeof(RepositoryPaths).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
                .Cast<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
            if (recorded is not null && System.IO.File.Exists(System.IO.Path.Combine(recorded, "InlineSigner.sln"))) return System.IO.Path.GetFullPath(recorded);
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "InlineSigner.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    public static string Zone(string name) => System.IO.Path.Combine(Root, "zones", name);
}
