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
    [LabFact]
    public void Up_verify_down_with_several_overlays()
    {
        var file = LabHarness.Overlays;
        LabHarness.UpTestDown(file, "lab-overlays", 3, 38, 8, (prefix, _) =>
        {
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
        });
    }
}
