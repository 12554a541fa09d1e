namespace InlineSigner.Cli.Commands;

/// <summary>
/// Free ports on 127.0.0.1 for the processes one benchmark run starts (our daemon, nodes, BIND). One instance per run:
/// it never hands out a port twice (<see cref="LoopbackPortSearch"/> says how a port is found free).
/// </summary>
internal sealed class LoopbackPorts
{
    private readonly HashSet<int> _given = [];

    /// <summary>A port free for both TCP and UDP.</summary>
    public int One() => Consecutive(1)[0];

    /// <summary><paramref name="count"/> consecutive ports free for TCP and UDP (node configurations number ports from a base).</summary>
    public int[] Consecutive(int count)
    {
        lock (_given)
            return LoopbackPortSearch.Find(count, _given, low: 12_000)
                ?? throw new CliException($"no {count} free consecutive ports on 127.0.0.1 below 32000");
    }
}
