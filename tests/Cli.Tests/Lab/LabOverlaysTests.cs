using System;
using System.Linq;

namespace SwarmDsl.Tests.Lab;

/// <summary>
/// A second topology on the real kernel — three nodes, three user overlays beside the ingress, an ingress TCP port
/// balanced by wrr over tasks on two overlays, an ingress UDP port, a global service with a host-mode port, a node whose
/// underlay interface is ens3 — verified against the simulation and removed without residue.
/// </summary>
public class LabOverlaysTests
{
    [NetnsFact("ip", "bridge", "nsenter", "setsid", "bash", "awk", "sysctl", "iptables-save", "iptables-restore", "nft", "conntrack", "unshare", "stat")]
    public void Up_verify_down_with_several_overlays()
    {
        var prefix = LabHarness.NewPrefix();
        var file = LabHarness.Overlays;
        CliRun down;
        try
        {
            var up = LabHarness.Run("lab", "up", file, "--prefix", prefix);
            Assert.True(up.ExitCode == 0, up.ToString());
            Assert.Contains("is up: lab-overlays, 3 node(s), 38 namespace(s), 8 responder(s)", up.Out, StringComparison.Ordinal);

            var verify = LabHarness.Run("lab", "verify", file, "--prefix", prefix, "--count", "4");
            LabHarness.AssertAgrees(verify);
            // wrr weights 2:1:1 are the nftables map's slots: web.1 twice, then web.2 and web.3, from every node.
            foreach (var node in new[] { "north", "south", "east" })
            {
                Assert.Matches(node + @":80/tcp +web\.1 web\.1 web\.2 web\.3 +\| web\.1 web\.1 web\.2 web\.3   agree", verify.Out);
                Assert.Matches(node + @":5353/udp +dns\.1 dns\.2 dns\.1 dns\.2 +\| dns\.1 dns\.2 dns\.1 dns\.2   agree", verify.Out);
                var four = string.Join(" ", Enumerable.Repeat(@"exporter\." + node, 4));
                Assert.Matches(node + @":9100/tcp +" + four + @" +\| " + four + "   agree", verify.Out);
            }
            Assert.Contains("south/host (" + prefix + "south)", verify.Out, StringComparison.Ordinal); // VXLAN between nodes, traced
            Assert.Contains("kernel:     frag-needed (mtu 1450)", verify.Out, StringComparison.Ordinal);

            var diff = LabHarness.Run("diff", file, "south", "--live", "--prefix", prefix);
            Assert.True(diff.ExitCode == 0, diff.ToString());
        }
        finally
        {
            down = LabHarness.Down(file, prefix);
        }
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Contains("removed 38 namespace(s) and 8 process(es)", down.Out, StringComparison.Ordinal);
        Assert.Empty(LabHarness.Residue(prefix));
    }
}
