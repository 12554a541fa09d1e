using System.Diagnostics;
using InlineSigner.Dnssec.Signing;

namespace InlineSigner.Cli;

/// <summary>A one-line progress bar on stderr, shown only when stderr is a terminal.</summary>
internal sealed class ProgressBar : IProgress<SigningProgress>, IDisposable
{
    private readonly TextWriter _writer;
    private readonly string _label;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private long _lastDraw;
    private bool _drawn;

    private ProgressBar(TextWriter writer, string label)
    {
        _writer = writer;
        _label = label;
    }

    public static ProgressBar? StartIfTerminal(TextWriter writer, string label) =>
        Console.IsErrorRedirected || !ReferenceEquals(writer, Console.Error) ? null : new ProgressBar(writer, label);

    public void Report(SigningProgress value)
    {
        lock (_gate)
        {
            long now = _clock.ElapsedMilliseconds;
            if (now - _lastDraw < 200 && value.SignaturesDone < value.SignaturesTotal) return;
            _lastDraw = now;
            double fraction = value.SignaturesTotal == 0 ? 1 : (double)value.SignaturesDone / value.SignaturesTotal;
            int filled = (int)(fraction * 30);
            _writer.Write($"\r{_label} [{new string('#', filled)}{new string('.', 30 - filled)}] {value.SignaturesDone}/{value.SignaturesTotal} signatures");
            _drawn = true;
        }
    }

    public void Dispose()
    {
        if (_drawn) _writer.WriteLine();
    }
}
