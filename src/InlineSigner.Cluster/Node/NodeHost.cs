using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InlineSigner.Cluster.Node;

/// <summary>The dtcnode as a hosted service: starts the <see cref="NodeServer"/> with the host and stops it with the host.</summary>
public sealed class NodeService(NodeServer server) : BackgroundService
{
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        server.Start();
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Delay(Timeout.Infinite, stoppingToken)
        .ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        server.Dispose();
    }
}

/// <summary>Runs a node from its configuration file on the generic host (`inline-signer node run --config F`).</summary>
public static class NodeHost
{
    /// <summary>
    /// Loads the configuration and opens the share store first, so a bad configuration, a wrong passphrase or a tampered
    /// store is an exception with a clear message (<see cref="ClusterConfigException"/>, <see cref="ShareStoreException"/>)
    /// before anything listens. Then serves until <paramref name="cancellationToken"/> or SIGTERM/Ctrl-C.
    /// </summary>
    public static async Task RunAsync(string configPath, CancellationToken cancellationToken)
    {
        var config = NodeConfig.Load(configPath);
        if (!Enum.TryParse<LogLevel>(config.File.LogLevel, ignoreCase: true, out var level))
            throw new ClusterConfigException($"node configuration {config.ConfigPath}: logLevel '{config.File.LogLevel}' is not one of {string.Join(", ", Enum.GetNames<LogLevel>())}");
        var passphrase = config.ReadPassphrase();
        ShareStore store;
        try
        {
            store = ShareStore.Open(config.StorePath, passphrase);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passphrase);
        }
        using (store)
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "inline-signer-node" });
            builder.Logging.SetMinimumLevel(level);
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
                o.UseUtcTimestamp = true;
            });
            builder.Services.AddSingleton(sp => new NodeServer(config, store, sp.GetRequiredService<ILoggerFactory>().CreateLogger($"node{config.NodeId}")));
            builder.Services.AddHostedService<NodeService>();
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
            using var host = builder.Build();
            await host.RunAsync(cancellationToken);
        }
    }
}
