using System.CommandLine;

namespace InlineSigner.Cli.Commands;

/// <summary>Every top-level command group. Adding a group means adding one line here.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All(TextWriter output)
    {
        yield return VersionCommand.Create(output);
    }
}
