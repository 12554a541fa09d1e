using InlineSigner.Tests.Shared;

namespace InlineSigner.Server.Tests.Support;

/// <summary>
/// A real secondary DNS daemon of a test (NSD, Knot): configured in a temporary directory it owns, the configuration
/// checked by the daemon's own checker first (so a mistake reads as that, not as a daemon that never starts), run in
/// the foreground; disposal kills it and deletes the directory.
/// </summary>
public sealed class SecondaryDaemon : IAsyncDisposable
{
    private readonly ForegroundProcess _process;

    private SecondaryDaemon(TempDirectory directory, int port, ForegroundProcess process)
    {
        Directory = directory;
        Port = port;
        _process = process;
    }

    public TempDirectory Directory { get; }
    public int Port { get; }
    public string Log => _process.Log;

    /// <summary>
    /// Writes <paramref name="conf"/> to <paramref name="confFile"/> in <paramref name="directory"/>, runs
    /// <paramref name="checker"/> with the checker arguments (where "{conf}" stands for the file's path), then starts
    /// <paramref name="daemon"/> and waits for <paramref name="ready"/> in its output. Takes over the directory, also
    /// when it throws.
    /// </summary>
    public static async Task<SecondaryDaemon> StartAsync(TempDirectory directory, int port, string confFile, string conf,
        string checker, IReadOnlyList<string> checkerArguments, string daemon, IReadOnlyList<string> daemonArguments, string ready)
    {
        try
        {
            var confPath = directory.File(confFile);
            await File.WriteAllTextAsync(confPath, conf);
            string[] With(IReadOnlyList<string> arguments) => arguments.Select(a => a == "{conf}" ? confPath : a).ToArray();
            var check = await ExternalTool.RunAsync(checker, With(checkerArguments));
            if (check.ExitCode != 0) throw new InvalidOperationException($"{checker} rejects the configuration:\n{check.All}\n{conf}");
            var process = await ForegroundProcess.StartAsync(daemon, With(daemonArguments), ready, port, directory.Path);
            return new SecondaryDaemon(directory, port, process);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Dispose();
    }
}
