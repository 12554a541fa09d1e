using InlineSigner.Cli;

// Entry point of the `inline-signer` command. Each command group lives in Commands/ and is assembled by CliApp.
return await CliApp.RunAsync(args, Console.Out, Console.Error);
