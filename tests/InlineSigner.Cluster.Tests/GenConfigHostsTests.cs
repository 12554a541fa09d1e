using InlineSigner.Cluster.Client;
using InlineSigner.Cluster.Node;
using InlineSigner.Tests.Shared;

namespace InlineSigner.Cluster.Tests;

/// <summary>
/// `node genconfig --hosts`: a cluster whose nodes each live on their own host (the compose topology's dtcnode1…5), so
/// the address the client dials differs from the one a node binds.
/// </summary>
public sealed class GenConfigHostsTests
{
    [Fact]
    public void Each_node_is_dialled_at_its_own_host_and_listens_on_the_listen_address()
    {
        using var dir = new TempDirectory();
        string[] hosts = ["dtcnode1", "dtcnode2", "dtcnode3", "dtcnode4", "dtcnode5"];
        var generated = ClusterSetup.GenerateCluster(dir.Path, 5, 3, 9701, hosts: hosts);

        var cluster = ClusterConfig.Load(generated.ClusterConfigPath);
        Assert.Equal(3, cluster.Threshold);
        Assert.Equal(hosts.Select((h, i) => $"tcp://{h}:{9701 + i}"), cluster.Nodes.OrderBy(n => n.Id).Select(n => n.Endpoint));
        for (int id = 1; id <= 5; id++)
        {
            var node = NodeConfig.Load(dir.File($"node{id}.json"));
            Assert.Equal([$"tcp://0.0.0.0:{9700 + id}"], node.File.Listen);
            // The client pins the key of the node it dials, whatever the host is called.
            Assert.Equal(node.Certificate.PublicKeyZ85, cluster.Nodes.Single(n => n.Id == id).CurvePublicKey);
        }
    }

    [Fact]
    public void An_explicit_listen_address_and_ipv6_hosts_are_written_as_endpoints()
    {
        using var dir = new TempDirectory();
        var generated = ClusterSetup.GenerateCluster(dir.Path, 2, 2, 20_000, hosts: ["::1", "10.0.0.2"], listenAddress: "::");
        var cluster = ClusterConfig.Load(generated.ClusterConfigPath);
        Assert.Equal(["tcp://[::1]:20000", "tcp://10.0.0.2:20001"], cluster.Nodes.OrderBy(n => n.Id).Select(n => n.Endpoint));
        Assert.Equal(["tcp://[::]:20001"], NodeConfig.Load(dir.File("node2.json")).File.Listen);
    }

    [Fact]
    public void A_host_list_that_does_not_match_the_node_count_is_refused_before_anything_is_written()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<ClusterConfigException>(() => ClusterSetup.GenerateCluster(dir.File("c"), 5, 3, 9701, hosts: ["a", "b"]));
        Assert.Contains("--hosts", e.Message);
        Assert.Throws<ClusterConfigException>(() => ClusterSetup.GenerateCluster(dir.File("c"), 2, 1, 9701, hosts: ["a", "tcp://b"]));
        Assert.False(Directory.Exists(dir.File("c")));
    }
}
