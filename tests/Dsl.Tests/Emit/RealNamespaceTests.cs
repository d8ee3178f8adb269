using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Emit;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Emit;

/// <summary>
/// The emitted scripts on the real kernel: node namespaces on an underlay fabric, each node's apply.sh entered with
/// <c>nsenter --net</c> and <c>SWARMDSL_NETNS_PREFIX</c>, then a second apply (no change), traffic through the routing
/// mesh, repair of a half-applied node, and teardown (nothing left).
/// </summary>
public class RealNamespaceTests
{
    private static string Sh(string ns, params string[] args) => EmitScenario.Sh(ns, args);

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "socat")]
    public void Hand_plan_apply_twice_traffic_repair_teardown()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        EmitScenario.ApplyTwiceTrafficRepairTeardown(lab, new[] { ("10.7.191.10", 8080), ("10.7.191.9", 8080) });
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_builds_the_vxlan_and_sandbox_as_docker_does()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var r = lab.Run("manager", "apply.sh");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var p = lab.Prefix("manager");
        var vxlan = Sh(p + "1-ingress", "ip", "-d", "link", "show", "vxlan0");
        Assert.Contains("vxlan id 4096 ", vxlan, StringComparison.Ordinal);
        Assert.Contains("dstport 4789", vxlan, StringComparison.Ordinal);
        Assert.Contains("proxy l2miss l3miss", vxlan, StringComparison.Ordinal);
        Assert.Contains("ttl auto", vxlan, StringComparison.Ordinal);
        Assert.Contains("link-netns " + lab.NodeNs["manager"], vxlan, StringComparison.Ordinal); // its socket stayed in the host namespace
        // As in Docker's captures: the vxlan device came from another namespace, so its entries show link-netnsid.
        Assert.Matches("02:42:0a:ff:00:06 dst 10.7.191.9 link-netnsid \\d+ self permanent", Sh(p + "1-ingress", "bridge", "fdb", "show", "dev", "vxlan0"));
        Assert.Contains("10.255.0.6 lladdr 02:42:0a:ff:00:06 PERMANENT", Sh(p + "1-ingress", "ip", "neigh", "show", "dev", "vxlan0"), StringComparison.Ordinal);
        Assert.Contains("inet 10.255.0.4/32", Sh(p + "ingress_sbox", "ip", "addr", "show", "eth0"), StringComparison.Ordinal);
        Assert.Contains("default via 172.18.0.1 dev eth1", Sh(p + "ingress_sbox", "ip", "route"), StringComparison.Ordinal);
        Assert.Contains("numgen inc mod 2", Sh(p + "ingress_sbox", "nft", "list", "table", "ip", "swarmdsl"), StringComparison.Ordinal);
        Assert.Equal("1", Sh(lab.NodeNs["manager"], "sysctl", "-n", "net.ipv4.ip_forward").Trim());
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_stops_when_the_underlay_lacks_its_address()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        HostLinux.Run("ip", "-n", lab.NodeNs["worker"], "addr", "flush", "dev", "eth0").EnsureSuccess("flush");
        var r = lab.Run("worker", "apply.sh");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("underlay interface eth0 does not carry 10.7.191.9/24", r.StdErr, StringComparison.Ordinal);
        Assert.Empty(lab.Created("worker"));
        var teardown = lab.Run("worker", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_keeps_foreign_rules_and_teardown_leaves_them()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        // An administrator's own rules in the same built-in chains.
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-A", "FORWARD", "-s", "192.0.2.1", "-j", "DROP").EnsureSuccess("foreign filter rule");
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE").EnsureSuccess("foreign nat rule");
        for (int i = 0; i < 2; i++) Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        var saved = Sh(m, "iptables-save");
        Assert.Contains("-A FORWARD -s 192.0.2.1/32 -j DROP", saved, StringComparison.Ordinal);
        Assert.Single(saved.Split('\n'), l => l.StartsWith("-A FORWARD", StringComparison.Ordinal) && l.EndsWith("-j DOCKER-USER", StringComparison.Ordinal));
        Assert.True(lab.Run("manager", "teardown.sh").ExitCode == 0);
        var left = Sh(m, "iptables-save").Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
        Assert.Equal(new[] { "-A FORWARD -s 192.0.2.1/32 -j DROP", "-A POSTROUTING -o eth0 -j MASQUERADE" }, left);
    }
}

public class DropPolicyTests
{
    /// <summary>The hand plan with the host's filter FORWARD policy set to DROP (as Docker 28 does when it enables forwarding).</summary>
    private static DataplanePlan WithForwardDrop()
    {
        var plan = HandPlans.TwoNode(LoadBalancerBackend.Nftables);
        HostPlan Fix(HostPlan h) => h with
        {
            Namespaces = h.Namespaces.Select(ns => ns.Kind != NamespaceKind.Host ? ns : ns with
            {
                Tables = ns.Tables.Select(t => t.Name != "filter" ? t : t with
                {
                    Chains = t.Chains.Select(c => c.Name == "FORWARD" ? c with { Policy = Verdict.Drop } : c).ToEquatableArray(),
                }).ToEquatableArray(),
            }).ToEquatableArray(),
        };
        return plan with { Hosts = plan.Hosts.Select(Fix).ToEquatableArray() };
    }

    [Fact]
    public void A_drop_policy_is_written_and_remembered()
    {
        var files = ProvisioningEmitter.Emit(WithForwardDrop());
        Assert.Contains(":FORWARD DROP [0:0]", files.Single(f => f.Path == "manager/iptables-host.rules").Content, StringComparison.Ordinal);
        Assert.Contains("remember_policy filter FORWARD\n", files.Single(f => f.Path == "manager/apply.sh").Content, StringComparison.Ordinal);
        // A namespace the scripts create never gets an ACCEPT line: policies are only tightened.
        Assert.DoesNotContain(" ACCEPT [0:0]", files.Single(f => f.Path == "manager/iptables-web.1.rules").Content, StringComparison.Ordinal);
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_puts_the_previous_policy_back()
    {
        using var lab = EmitLab.FromPlan(WithForwardDrop());
        var m = lab.NodeNs["manager"];
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-P", "FORWARD", "ACCEPT").EnsureSuccess("policy");
        for (int i = 0; i < 2; i++) Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        Assert.Contains(":FORWARD DROP", EmitScenario.Sh(m, "iptables-save", "-t", "filter"), StringComparison.Ordinal);
        var r = lab.Run("manager", "teardown.sh");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains(":FORWARD ACCEPT", EmitScenario.Sh(m, "iptables-save", "-t", "filter"), StringComparison.Ordinal);
    }
}
