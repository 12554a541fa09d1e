using System.Text.Json;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Interop.Tests;

/// <summary>
/// The daemon benchmarks run end to end at a tiny size: every server they start comes up, every measurement is made
/// and the JSON has its fields. Shape only: timings are what the benchmarks report, never what a test checks.
/// </summary>
public sealed class BenchCliTests
{
    private static async Task<JsonElement> RunJsonAsync(params string[] arguments)
    {
        var result = await ExternalTool.RunInlineSignerAsync(arguments, TimeSpan.FromMinutes(10));
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Error}\n{result.Output}");
        using var document = JsonDocument.Parse(result.Output.Trim());
        return document.RootElement.Clone();
    }

    private static void Positive(JsonElement result, params string[] names)
    {
        foreach (var name in names)
            Assert.True(result.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.GetDouble() > 0, $"{name} missing or not positive in {result}");
    }

    [Fact]
    public async Task Bench_serve_measures_the_daemon_and_bind_on_the_same_zone()
    {
        var result = await RunJsonAsync("bench", "serve", "--records", "300", "--seconds", "0.5", "--rounds", "1", "--json");
        Positive(result, "records", "rrsets", "signatures", "zone_records", "axfr_ours_seconds", "axfr_bind_seconds", "axfr_speed_ours_over_bind",
            "ixfr_one_change_ms", "ixfr_records", "qps_ours", "qps_bind", "qps_ours_over_bind", "peak_rss_mib", "bind_peak_rss_mib");
        Assert.True(result.GetProperty("zone_records").GetInt64() > 300);
        // One new name under NSEC: the A RRset, its RRSIG, the new NSEC and the changed one with their RRSIGs, the SOA pair.
        Assert.InRange(result.GetProperty("ixfr_records").GetInt32(), 6, 40);
    }

    [Fact]
    public async Task Bench_pipeline_runs_a_primary_a_cluster_and_the_daemon_for_each_algorithm()
    {
        var result = await RunJsonAsync("bench", "pipeline", "--records", "100", "--changes", "2", "--raw-seconds", "0.5", "--raw-batch", "16",
            "--rsa-bits", "1024", "--algorithms", "ed25519,rsasha256", "--json");
        var runs = result.GetProperty("algorithms").EnumerateArray().ToList();
        Assert.Equal(["ED25519", "RSASHA256-1024"], runs.Select(r => r.GetProperty("algorithm").GetString()));
        foreach (var run in runs)
        {
            Positive(run, "raw_signatures_per_second", "rrsets", "full_sign_signatures", "full_sign_seconds", "full_sign_fraction_of_raw_rate",
                "notify_to_commit_p50_ms", "notify_to_commit_p90_ms", "peak_rss_mib", "node_peak_rss_mib");
            Assert.Equal(2, run.GetProperty("changes").GetInt32());
        }
    }
}
