using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using InlineSigner.Server.Configuration;
using InlineSigner.Server.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace InlineSigner.Server.Hosting;

/// <summary>
/// Runs `inline-signer serve` on the generic host: configuration (the caller's sources: conf JSON, environment,
/// command line), one-line UTC logs, the <see cref="SignerService"/>, Kestrel for /metrics and the loopback control
/// endpoint (/status), graceful stop on SIGTERM/Ctrl-C and configuration reload on SIGHUP.
/// </summary>
public static class SignerHost
{
    public static readonly JsonSerializerOptions StatusJson = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// Checks the configuration (a <see cref="SignerConfigurationException"/> before anything starts), then serves until
    /// <paramref name="cancellationToken"/> or a stop signal. <paramref name="onStarted"/> sees the running service (tests).
    /// </summary>
    public static async Task RunAsync(IConfiguration configuration, string baseDirectory, CancellationToken cancellationToken,
        Action<SignerService>? onStarted = null)
    {
        SignerSettings Load()
        {
            // Read the sources again (a SIGHUP after editing the file must see the edit).
            (configuration as IConfigurationRoot)?.Reload();
            var options = configuration.GetSection(SignerOptions.Section).Get<SignerOptions>() ?? new SignerOptions();
            return SignerSettings.From(options, baseDirectory);
        }
        var settings = Load(); // fail fast, with the configuration's own message
        var web = settings.Metrics is not null || settings.Control is not null;
        IHostApplicationBuilder builder = web
            ? WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "inline-signer", ContentRootPath = baseDirectory })
            : Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "inline-signer", ContentRootPath = baseDirectory });
        builder.Configuration.AddConfiguration(configuration);
        builder.Logging.ClearProviders();
        // Kestrel's per-request lines are noise next to the signer's own; Logging:LogLevel in the configuration overrides.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddConfiguration(configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Services.AddSingleton(new SignerMetrics());
        builder.Services.AddSingleton(sp => new SignerService(Load, sp.GetRequiredService<SignerMetrics>(), sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SignerService>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        IHost host;
        if (builder is WebApplicationBuilder webBuilder)
        {
            webBuilder.WebHost.ConfigureKestrel(kestrel =>
            {
                if (settings.Metrics is { } metrics) kestrel.Listen(metrics);
                if (settings.Control is { } control && !control.Equals(settings.Metrics)) kestrel.Listen(control);
            });
            var app = webBuilder.Build();
            var registry = app.Services.GetRequiredService<SignerMetrics>().Registry;
            app.MapMetrics("/metrics", registry);
            app.MapGet("/status", (HttpContext context, SignerService service) =>
                context.Connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote)
                    ? Results.Json(service.Status(), StatusJson)
                    : Results.StatusCode(StatusCodes.Status403Forbidden));
            app.MapPost("/reload", async (HttpContext context, SignerService service) =>
            {
                if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote)) return Results.StatusCode(StatusCodes.Status403Forbidden);
                await service.ReloadAsync(context.RequestAborted);
                return Results.Json(service.Status(), StatusJson);
            });
            host = app;
        }
        else
        {
            host = ((HostApplicationBuilder)builder).Build();
        }

        await using (host as IAsyncDisposable ?? throw new InvalidOperationException("host is not disposable"))
        {
            var service = host.Services.GetRequiredService<SignerService>();
            using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // not a stop signal here: reload
                _ = Task.Run(() => service.ReloadAsync(CancellationToken.None));
            });
            await host.StartAsync(cancellationToken);
            onStarted?.Invoke(service);
            await host.WaitForShutdownAsync(cancellationToken);
            // The container disposes the service (store, cluster client, local nodes) with the host.
        }
    }
}
