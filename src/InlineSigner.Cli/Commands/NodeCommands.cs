using System.CommandLine;
using InlineSigner.Cluster;
using InlineSigner.Cluster.Node;

namespace InlineSigner.Cli.Commands;

/// <summary>`inline-signer node …`: run a dtcnode, create one node's configuration, or a whole local cluster's.</summary>
internal static class NodeCommands
{
    public static Command Create(TextWriter output)
    {
        var node = new Command("node", "Run a key-share node (dtcnode) or write node and cluster configurations.");
        node.Add(Run());
        node.Add(Init(output));
        node.Add(GenConfig(output));
        return node;
    }

    private static Command Run()
    {
        var config = new Option<FileInfo>("--config", "-c") { Description = "The node's configuration file (JSON)", Required = true };
        var stopWithStdin = new Option<bool>("--stop-with-stdin")
        {
            Description = "Also stop when standard input reaches its end (for a node run as a child process: the parent's end, even by SIGKILL, closes the pipe)",
        };
        var command = new Command("run", "Serve key shares to the cluster's clients until SIGTERM or Ctrl-C.") { config, stopWithStdin };
        command.SetAction(async (parse, ct) =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (parse.GetValue(stopWithStdin)) _ = StopAtEndOfInputAsync(stop);
            // Configuration, passphrase and share store are all checked before anything listens: a bad one is one line.
            await NodeHost.RunAsync(parse.GetRequiredValue(config).FullName, stop.Token);
            return 0;
        });
        return command;
    }

    /// <summary>Reads standard input to its end, then cancels: the parent that holds the other end has gone.</summary>
    private static async Task StopAtEndOfInputAsync(CancellationTokenSource stop)
    {
        try
        {
            await using var input = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (await input.ReadAsync(buffer, stop.Token) > 0) { }
        }
        catch (OperationCanceledException) { return; }
        catch (IOException) { }
        try { stop.Cancel(); }
        catch (ObjectDisposedException) { } // the node stopped first
    }

    private static Command Init(TextWriter output)
    {
        var outPath = new Option<FileInfo>("--out", "-o") { Description = "Configuration file to write, e.g. conf/node1.json (its .pass and .store sit beside it)", Required = true };
        var id = new Option<int>("--id") { Description = "Node id = share index, 1..64", Required = true };
        var listen = new Option<string[]>("--listen") { Description = "Endpoint to listen on, e.g. tcp://0.0.0.0:9701 or tcp://[::]:9701; may be repeated (default tcp://127.0.0.1:9700+id)", AllowMultipleArgumentsPerToken = true };
        var allow = new Option<string[]>("--allow-client") { Description = "A client's Ed25519 public key (base64) to allow; may be repeated", AllowMultipleArgumentsPerToken = true };
        var command = new Command("init", "Create one node's configuration: a fresh CURVE key pair, a share-store passphrase file (0600), an empty allow-list unless given.")
        {
            outPath, id, listen, allow,
        };
        command.SetAction(parse =>
        {
            var file = parse.GetRequiredValue(outPath).FullName;
            var publicKey = ClusterSetup.InitNode(file, parse.GetValue(id), parse.GetValue(listen) ?? [], parse.GetValue(allow) ?? []);
            output.WriteLine($"wrote {file}");
            output.WriteLine($"node {parse.GetValue(id)} CURVE public key (for the client's cluster.json): {publicKey}");
            if ((parse.GetValue(allow) ?? []).Length == 0)
                output.WriteLine("note: allowedClients is empty; add the client's public key before running the node");
            return 0;
        });
        return command;
    }

    private static Command GenConfig(TextWriter output)
    {
        var nodes = new Option<int>("--nodes", "-n") { Description = "Number of nodes (n)", Required = true };
        var threshold = new Option<int>("--threshold", "-t") { Description = "Shares needed to sign (t)", Required = true };
        var outDir = new Option<DirectoryInfo>("--out", "-o") { Description = "Directory for node1.json … nodeN.json, their passphrase files, and cluster.json", Required = true };
        var basePort = new Option<int>("--base-port") { Description = $"Node i listens on base-port + i - 1 (default {ClusterSetup.DefaultBasePort})", DefaultValueFactory = _ => ClusterSetup.DefaultBasePort };
        var host = new Option<string>("--host") { Description = "Address the nodes listen on and the client connects to (default 127.0.0.1)", DefaultValueFactory = _ => "127.0.0.1" };
        var hosts = new Option<string[]>("--hosts")
        {
            Description = "One host per node, comma-separated (e.g. dtcnode1,dtcnode2,…: container names): the client connects to node i there; the nodes listen on --listen-address",
            AllowMultipleArgumentsPerToken = true,
        };
        var listenAddress = new Option<string?>("--listen-address") { Description = "Address the nodes bind (default: --host, or 0.0.0.0 with --hosts)" };
        var command = new Command("genconfig", "Write a whole cluster's configuration: every node's and the client's, keys included.")
        {
            nodes, threshold, outDir, basePort, host, hosts, listenAddress,
        };
        command.SetAction(parse =>
        {
            var perNode = parse.GetValue(hosts) is { Length: > 0 } given
                ? given.SelectMany(h => h.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList()
                : null;
            var generated = ClusterSetup.GenerateCluster(parse.GetRequiredValue(outDir).FullName, parse.GetValue(nodes), parse.GetValue(threshold),
                parse.GetValue(basePort), parse.GetValue(host)!, perNode, parse.GetValue(listenAddress));
            foreach (var path in generated.NodeConfigPaths) output.WriteLine($"wrote {path}");
            output.WriteLine($"wrote {generated.ClusterConfigPath} (threshold {parse.GetValue(threshold)} of {parse.GetValue(nodes)}; client key {generated.ClientPublicKey})");
            output.WriteLine($"start each node with: inline-signer node run --config {Path.Combine(Path.GetDirectoryName(generated.ClusterConfigPath)!, "nodeN.json")}");
            return 0;
        });
        return command;
    }
}
