using System.Diagnostics;

namespace InlineSigner.Tests.Shared;

/// <summary>
/// Waiting for a condition instead of guessing how long something takes: a loaded CI machine (two cores, several test
/// assemblies at once) can be many times slower than a workstation. The condition is polled until it holds or the
/// deadline passes (then the test fails saying what was expected and what was seen). Returns as soon as it holds, so a
/// generous deadline costs nothing when things work.
/// </summary>
public static class Eventually
{
    /// <summary>The default deadline: long enough for a loaded machine, short enough that a real failure is reported.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="condition"/>; fails with <paramref name="expected"/> and <paramref name="seen"/> (read at the deadline).</summary>
    public static async Task AssertAsync(Func<bool> condition, string expected, Func<string> seen, TimeSpan? deadline = null)
    {
        var limit = deadline ?? Deadline;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit) throw new Xunit.Sdk.XunitException($"not within {limit.TotalSeconds:0.#} s: {expected}; seen: {seen()}");
            await Task.Delay(Interval);
        }
    }

    /// <summary>Like <see cref="AssertAsync(Func{bool}, string, Func{string}, TimeSpan?)"/> for a condition that must be fetched (a metrics page, a query).</summary>
    public static async Task<T> AssertAsync<T>(Func<Task<T>> fetch, Func<T, bool> condition, string expected, Func<T, string> seen, TimeSpan? deadline = null)
    {
        var limit = deadline ?? Deadline;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await fetch();
            if (condition(value)) return value;
            if (clock.Elapsed > limit) throw new Xunit.Sdk.XunitException($"not within {limit.TotalSeconds:0.#} s: {expected}; seen: {seen(value)}");
            await Task.Delay(Interval);
        }
    }
}
