using InlineSigner.Cli.Commands;

namespace InlineSigner.Tests.Shared;

/// <summary>
/// Ports for the servers a test starts (BIND, NSD, Knot, nodes, our daemon). Never hard-coded: other processes on the
/// machine hold common ones. The search is the benchmarks' (<see cref="LoopbackPortSearch"/>, compiled into every test
/// project); a port is never handed out twice in one test run, so parallel tests do not collide with each other.
/// </summary>
public static class FreePorts
{
    private static readonly HashSet<int> Given = [];

    /// <summary>One free port (TCP and UDP).</summary>
    public static int Get() => GetRange(1)[0];

    /// <summary><paramref name="count"/> consecutive free ports, lowest first (for configurations that number ports from a base).</summary>
    public static int[] GetRange(int count)
    {
        lock (Given)
            return LoopbackPortSearch.Find(count, Given, low: 10_000)
                ?? throw new InvalidOperationException($"no {count} consecutive free ports found on 127.0.0.1");
    }
}
