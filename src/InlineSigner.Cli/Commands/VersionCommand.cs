using System.CommandLine;
using System.Reflection;

namespace InlineSigner.Cli.Commands;

internal static class VersionCommand
{
    public static Command Create(TextWriter output)
    {
        var command = new Command("version", "Print the program version.");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            output.WriteLine($"inline-signer {version}");
            return 0;
        });
        return command;
    }
}
