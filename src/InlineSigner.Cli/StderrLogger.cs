using Microsoft.Extensions.Logging;

namespace InlineSigner.Cli;

/// <summary>
/// Warnings from the libraries a command drives (a cluster node down, a node returning bad shares) as one line each on
/// the command's error stream: "inline-signer: warning: …". Commands stay quiet otherwise.
/// </summary>
internal sealed class StderrLoggerProvider(TextWriter error, LogLevel minimum = LogLevel.Warning) : ILoggerProvider
{
    private readonly object _gate = new();
    private readonly TextWriter _error = error;
    private readonly LogLevel _minimum = minimum;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose() { }

    private sealed class Logger(StderrLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var level = logLevel >= LogLevel.Error ? "error" : "warning";
            var line = $"inline-signer: {level}: {formatter(state, exception).ReplaceLineEndings(" ")}";
            lock (owner._gate) owner._error.WriteLine(line);
        }
    }

    /// <summary>A logger for one command's cluster client.</summary>
    public static ILogger For(TextWriter error) => new StderrLoggerProvider(error).CreateLogger("inline-signer");
}
