using System.CommandLine;
using InlineSigner.Cli.Commands;

namespace InlineSigner.Cli;

/// <summary>Builds the command tree and runs it: exit 0 on success, non-zero with one line on stderr otherwise.</summary>
public static class CliApp
{
    public static RootCommand BuildRoot(TextWriter output, TextWriter error)
    {
        var root = new RootCommand("InlineSigner: an inline DNSSEC signer whose keys are threshold-shared among dtcnode processes.");
        foreach (var command in CommandCatalog.All(output, error)) root.Add(command);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var root = BuildRoot(output, error);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // Parse errors: one line naming the first problem, then the usual hint.
            await error.WriteLineAsync($"inline-signer: error: {parse.Errors[0].Message} (see --help)");
            return 2;
        }

        using var cancellation = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancellation.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var config = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
            return await parse.InvokeAsync(config, cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("inline-signer: cancelled");
            return 130;
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            await error.WriteLineAsync($"inline-signer: error: {Describe(e)}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>
    /// Failures whose message is meant for the user (bad arguments, files, configurations, a cluster below threshold, a
    /// tampered share store): printed as one line. Anything else is a bug and keeps its stack trace.
    /// </summary>
    private static bool IsUserFacing(Exception e) => e is CliException or IOException or UnauthorizedAccessException or FormatException
        or InvalidOperationException or ArgumentException or System.Security.Cryptography.CryptographicException
        or TimeoutException or NotSupportedException
        or Cluster.ClusterConfigException or Cluster.Keys.ClusterKeyException or Cluster.Client.ClusterSigningException
        or Cluster.Node.ShareStoreException or Cluster.Client.NodeErrorException or Cluster.Client.NodeUnavailableException
        or Zones.ZoneFileException or Dnssec.Signing.SignatureVerificationException or Dnssec.Signing.SigningPolicyException
        or Server.Configuration.SignerConfigurationException or Storage.StoreCorruptException
        || e is AggregateException { InnerExceptions.Count: 1 } a && IsUserFacing(a.InnerExceptions[0]);

    /// <summary>One line: the message of the innermost meaningful exception.</summary>
    private static string Describe(Exception e)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } aggregate) return Describe(aggregate.InnerExceptions[0]);
        return e.Message.ReplaceLineEndings(" ");
    }
}

/// <summary>An expected failure with a message for the user (bad arguments, missing files…).</summary>
public sealed class CliException(string message) : Exception(message);
