using System;
using System.Linq;
using SwarmDsl.Diagnostics;

namespace SwarmDsl.Tests.Diagnostics;

/// <summary>SWARM0044: a sysctl naming a device a node's host namespace will not have (lowering knows the devices).</summary>
public class SysctlDeviceTests
{
    private const string Base = """
        version: 1
        name: t
        nodes:
          a: { address: 10.0.0.1/24 }
          b: { address: 10.0.0.2/24, interface: ens5 }
        networks:
          front: { driver: bridge, subnet: 10.1.0.0/24 }
          back: { driver: overlay, subnet: 10.2.0.0/24 }
        services:
          web:
            networks: [back]

        """;

    private static PlanCompilationResult Lower(string yaml) => SwarmCompiler.CompileToPlan(TestInput.File, yaml);

    [Theory]
    [InlineData("net.ipv4.conf.eth9.rp_filter", "node 'a' has no device 'eth9' in its host namespace (its underlay interface is eth0)")]
    [InlineData("net.ipv6.neigh.ens9.retrans_time_ms", "node 'a' has no device 'ens9'")]
    // eth0 is a's underlay interface, not b's (ens5): the first node without it is named.
    [InlineData("net.ipv4.conf.eth0.arp_ignore", "node 'b' has no device 'eth0' in its host namespace (its underlay interface is ens5)")]
    public void A_cluster_sysctl_of_a_missing_device_is_a_warning_at_its_key(string key, string message)
    {
        var result = Lower(Base + "tuning:\n  sysctls:\n    " + key + ": 1\n");
        var found = result.Diagnostics.Where(d => d.Id == "SWARM0044").ToList();
        Assert.True(found.Count == 1, string.Join("\n", result.Diagnostics));
        Assert.Equal((14, 5, Severity.Warning), (found[0].Span.StartLine, found[0].Span.StartColumn, found[0].Severity));
        Assert.Contains(message, found[0].Message, StringComparison.Ordinal);
        Assert.Contains("apply.sh skips it there with a warning", found[0].Message, StringComparison.Ordinal);
        Assert.NotNull(result.Plan);
    }

    [Fact]
    public void A_nodes_own_sysctl_is_checked_against_that_node_only()
    {
        var result = Lower(Base.Replace("b: { address: 10.0.0.2/24, interface: ens5 }", "b: { address: 10.0.0.2/24, interface: ens5, sysctls: { net.ipv4.conf.ens5.rp_filter: 2, net.ipv4.conf.eth0.rp_filter: 2 } }"));
        var found = Assert.Single(result.Diagnostics, d => d.Id == "SWARM0044");
        Assert.Equal((5, 91), (found.Span.StartLine, found.Span.StartColumn));
        Assert.Contains("node 'b' has no device 'eth0'", found.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Devices_every_host_has_are_no_warning()
    {
        var bridge = SwarmDsl.Lowering.SwarmLowering.BridgeDevice("front");
        var result = Lower(Base.Replace("b: { address: 10.0.0.2/24, interface: ens5 }", "b: { address: 10.0.0.2/24 }")
            + "tuning:\n  sysctls:\n    net.ipv4.conf.eth0.rp_filter: 2\n    net.ipv4.conf.all.rp_filter: 2\n    net.ipv6.conf.default.forwarding: 1\n"
            + "    net.ipv4.neigh.lo.retrans_time_ms: 500\n    net.ipv4.conf." + bridge + ".rp_filter: 2\n    net.core.somaxconn: 1024\n");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "SWARM0044");
        Assert.NotNull(result.Plan);
    }
}
