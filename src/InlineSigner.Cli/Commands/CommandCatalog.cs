using System.CommandLine;

namespace InlineSigner.Cli.Commands;

/// <summary>Every top-level command group. Adding a group means adding one line here.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All(TextWriter output, TextWriter error)
    {
        yield return VersionCommand.Create(output);
        foreach (var command in ZoneCommands.Create(output, error)) yield return command;
        yield return KeysCommands.Create(output, error);
        yield return NodeCommands.Create(output);
        foreach (var command in ServeCommands.Create(output)) yield return command;
        yield return BenchCommands.Create(output, error);
    }
}
